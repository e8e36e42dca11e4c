"""Pull every listing with PyPI ``rets`` 1.0.0 (refindlyllc) and print one JSON summary line.

Runs inside that package's own venv (bench_query.py makes it).  The library pages by itself:
``Session.search`` with ``auto_offset`` follows MAXROWS, asking for ``Offset = offset + rows so
far``, so starting at ``offset=1`` (RETS offsets are 1-based) fetches each record once.
"""

import json

from anchor_args import anchor_parser
from rets import Session

a = anchor_parser().parse_args()

session = Session(a.url, a.user, a.password, version="RETS/1.7.2", use_post_method=False, timeout=120)
session.login()
records = 0
first_key = last_key = None
for row in session.search("Property", a.klass, dmql_query=a.query, offset=1):
    records += 1
    last_key = row.get(a.key)
    if first_key is None:
        first_key = last_key
session.logout()
print(json.dumps({"records": records, "first_key": first_key, "last_key": last_key}))
