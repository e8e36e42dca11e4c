"""Pull every listing with PyPI ``rets-python`` 0.4.12 (opendoor-labs) and print one JSON summary line.

Runs inside that package's own venv (bench_query.py makes it).  Uses ``RetsHttpClient.search``,
the layer that returns each record as a dict of the strings the server sent (like the floor);
the library does not page, so this loops on Limit/Offset the way the floor does.
"""

import json

from anchor_args import anchor_parser
from rets.http import RetsHttpClient

a = anchor_parser().parse_args()

client = RetsHttpClient(a.url, username=a.user, password=a.password, use_get_method=True,
                        send_rets_ua_authorization=False)
client.login()
records = pages = 0
first_key = last_key = None
offset = 1
while True:
    result = client.search("Property", a.klass, a.query, limit=a.page_size, offset=offset)
    pages += 1
    got = 0
    for row in result.data or ():
        got += 1
        last_key = row.get(a.key)
        if first_key is None:
            first_key = last_key
    records += got
    offset += got
    more = result.max_rows or (got == a.page_size and (result.count is None or offset <= result.count))
    if got == 0 or not more:
        break
client.logout()
print(json.dumps({"records": records, "pages": pages, "first_key": first_key, "last_key": last_key}))
