"""The command line every Python anchor script shares (each runs in its own venv, beside this file)."""

import argparse


def anchor_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--class", dest="klass", default="RES")
    parser.add_argument("--query", default="(ListPrice=0+)")
    parser.add_argument("--key", default="ListingKey")
    parser.add_argument("--page-size", type=int, default=2500)
    return parser
