"""Finding the RETS passwords (flag → environment → keyring → prompt) and keeping them out of text.

Every secret resolved here is registered with :data:`redactor`, so logs, error reports and
``--verbose`` output can mask it wherever it appears.
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import sys

from retsctl.rets.http import REDACTED
from retsctl.rets.replies import RetsError

KEYRING_SERVICE = "retsctl"
PASSWORD_ENV = "RETSCTL_PASSWORD"
UA_PASSWORD_ENV = "RETSCTL_UA_PASSWORD"

_SECRET_PARAMS = re.compile(r"(?i)\b((?:ua[-_]?)?password[\"']?\s*[=:]\s*[\"']?)([^&\s\"',;]+)")


class MissingPasswordError(RetsError):
    """No password from any source and no terminal to ask on."""

    kind = "input"


class Redactor:
    """Masks every registered secret, and any ``password=…`` pair, in a piece of text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str | None) -> None:
        self._secrets.update(s for s in secrets if s)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret containing another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return _SECRET_PARAMS.sub(lambda m: m.group(1) + REDACTED, text)


redactor = Redactor()


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record's message and masks secrets in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redactor(record.getMessage())
        record.args = None
        return True


def keyring_account(login_url: str, username: str) -> str:
    """The keyring user name under service ``retsctl`` holding this login's password."""
    return f"{username}@{login_url}"


def ua_keyring_account(login_url: str, user_agent: str) -> str:
    """The keyring user name under service ``retsctl`` holding a UA password."""
    return f"ua:{user_agent}@{login_url}"


def read_keyring(account: str) -> str | None:
    """The stored secret, or None when there is none or no usable keyring backend."""
    # Imported here: finding the backend costs about 0.1 s, which commands given their secrets skip.
    import keyring
    import keyring.errors

    try:
        return keyring.get_password(KEYRING_SERVICE, account)
    except keyring.errors.KeyringError:
        return None


def resolve_password(flag: str | None, *, login_url: str, username: str, interactive: bool | None = None) -> str:
    """The RETS password: ``--password``, ``RETSCTL_PASSWORD``, the keyring, then a hidden prompt on a TTY.

    Raises MissingPasswordError when none applies (no terminal to prompt on).
    """
    account = keyring_account(login_url, username)
    password = flag or os.environ.get(PASSWORD_ENV) or read_keyring(account)
    if not password and (sys.stdin.isatty() if interactive is None else interactive):
        password = getpass.getpass(f"RETS password for {username}: ")
    if not password:
        raise MissingPasswordError(
            f"no password for {username} at {login_url}",
            hint=f"Pass --password, set {PASSWORD_ENV}, or store it with `keyring set {KEYRING_SERVICE} {account}`.",
        )
    redactor.add(password)
    return password


def resolve_ua_password(flag: str | None, *, login_url: str, user_agent: str | None) -> str | None:
    """The optional UA password: ``--ua-password``, ``RETSCTL_UA_PASSWORD``, then the keyring.

    The keyring is asked only for a User-Agent the operator named (``user_agent``): a UA password
    belongs to a User-Agent registered with the MLS, which retsctl's default one never is.
    """
    secret = flag or os.environ.get(UA_PASSWORD_ENV)
    if not secret and user_agent:
        secret = read_keyring(ua_keyring_account(login_url, user_agent))
    redactor.add(secret)
    return secret or None
