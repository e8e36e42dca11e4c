"""retsctl: bring an MLS (RETS) feed into a product."""

__version__ = "0.1.0"
