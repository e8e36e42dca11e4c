"""Download every page the floor downloads and throw the bytes away: the server + HTTP share of a run.

Same requests session, Digest auth and Limit/Offset paging as floor_lxml.py, but no XML parsing:
rows are counted by their ``<DATA>`` tags.  Prints one JSON summary line.
"""

import json
from urllib.parse import urljoin

import requests
from anchor_args import anchor_parser
from requests.auth import HTTPDigestAuth

ap = anchor_parser()
ap.add_argument("--pages", type=int, default=0, help="stop after this many pages (0: all)")
a = ap.parse_args()

s = requests.Session()
s.auth = HTTPDigestAuth(a.user, a.password)
s.headers.update({"RETS-Version": "RETS/1.7.2", "User-Agent": "retsbench-wire/1.0"})
login = s.get(a.url)
login.raise_for_status()
caps = dict(line.strip().split("=", 1) for line in login.text.splitlines() if "=" in line and "<" not in line)
search_url = urljoin(a.url, caps["Search"].strip())

records = pages = body_bytes = 0
offset = 1
while True:
    params = {"SearchType": "Property", "Class": a.klass, "Query": a.query, "QueryType": "DMQL2",
              "Format": "COMPACT-DECODED", "Count": "1", "Limit": str(a.page_size), "Offset": str(offset)}
    r = s.get(search_url, params=params, stream=True)
    r.raise_for_status()
    got = 0
    tail = b""
    for chunk in r.iter_content(1 << 16):
        body_bytes += len(chunk)
        window = tail + chunk
        got += window.count(b"<DATA>")
        tail = window[-5:]  # a tag cut by the chunk boundary is counted once, in the next window
    r.close()
    pages += 1
    records += got
    offset += got
    if got < a.page_size or pages == a.pages:
        break
s.get(urljoin(a.url, caps.get("Logout", "logout").strip()))
print(json.dumps({"records": records, "pages": pages, "body_bytes": body_bytes}))
