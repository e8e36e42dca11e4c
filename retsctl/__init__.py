"""retsctl: bring an MLS (RETS) feed into a product."""

__version__ = "0.1.0"

# sqlite-utils imports these when they are installed, to accept their values in inserts; retsctl
# never passes any. A sync and its writer process import sqlite-utils with them marked absent
# (about 50 ms and 12 MB each where they are installed).
DATA_FRAME_MODULES = ("numpy", "pandas")
