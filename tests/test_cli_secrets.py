"""Password lookup order, redaction, and where retsctl keeps its files."""

from __future__ import annotations

import logging
from pathlib import Path

import platformdirs
import pytest

from retsctl import config, secrets
from retsctl.cli.connection import DEFAULT_USER_AGENT
from retsctl.secrets import (
    KEYRING_SERVICE,
    MissingPasswordError,
    Redactor,
    keyring_account,
    resolve_password,
    resolve_ua_password,
    ua_keyring_account,
)

URL = "https://rets.example.com/Login"


@pytest.fixture
def stored(memory_keyring):
    memory_keyring.set_password(KEYRING_SERVICE, keyring_account(URL, "jane"), "from-keyring")
    return memory_keyring


def resolve(flag: str | None = None, *, interactive: bool = False) -> str:
    return resolve_password(flag, login_url=URL, username="jane", interactive=interactive)


def test_flag_comes_first(stored, monkeypatch) -> None:
    monkeypatch.setenv("RETSCTL_PASSWORD", "from-env")
    assert resolve("from-flag") == "from-flag"


def test_environment_beats_keyring(stored, monkeypatch) -> None:
    monkeypatch.setenv("RETSCTL_PASSWORD", "from-env")
    assert resolve() == "from-env"


def test_keyring_beats_prompt(stored, monkeypatch) -> None:
    monkeypatch.setattr(secrets.getpass, "getpass", lambda prompt: pytest.fail("prompted"))
    assert resolve(interactive=True) == "from-keyring"


def test_prompt_only_on_a_terminal(monkeypatch) -> None:
    prompts: list[str] = []
    monkeypatch.setattr(secrets.getpass, "getpass", lambda prompt: prompts.append(prompt) or "typed")
    assert resolve(interactive=True) == "typed"
    assert prompts == ["RETS password for jane: "]
    with pytest.raises(MissingPasswordError) as raised:
        resolve(interactive=False)
    assert raised.value.kind == "input"
    assert f"keyring set retsctl {keyring_account(URL, 'jane')}" in raised.value.hint


def test_ua_password_is_optional(memory_keyring, monkeypatch) -> None:
    assert resolve_ua_password(None, login_url=URL, user_agent="Acme/1.0") is None
    memory_keyring.set_password(KEYRING_SERVICE, ua_keyring_account(URL, "Acme/1.0"), "ua-kr")
    assert resolve_ua_password(None, login_url=URL, user_agent="Acme/1.0") == "ua-kr"
    monkeypatch.setenv("RETSCTL_UA_PASSWORD", "ua-env")
    assert resolve_ua_password(None, login_url=URL, user_agent="Acme/1.0") == "ua-env"
    assert resolve_ua_password("ua-flag", login_url=URL, user_agent="Acme/1.0") == "ua-flag"


def test_keyring_is_not_asked_for_a_ua_password_without_a_named_user_agent(memory_keyring) -> None:
    """A UA password belongs to a User-Agent registered with the MLS; retsctl's default is none."""
    memory_keyring.set_password(KEYRING_SERVICE, ua_keyring_account(URL, DEFAULT_USER_AGENT), "ua-kr")
    assert resolve_ua_password(None, login_url=URL, user_agent=None) is None
    assert resolve_ua_password(None, login_url=URL, user_agent=DEFAULT_USER_AGENT) == "ua-kr"


def test_resolved_secrets_are_redacted_everywhere(stored) -> None:
    resolve()
    assert secrets.redactor("login with from-keyring failed") == "login with ******** failed"


def test_redactor_masks_longest_secret_first_and_password_parameters() -> None:
    redact = Redactor()
    redact.add("abc", "abcdef", None, "")
    assert redact("x abcdef y abc") == "x ******** y ********"
    assert redact("GET /Login?user=j&password=hunter2&x=1") == "GET /Login?user=j&password=********&x=1"
    assert redact('{"ua_password": "s3cr3t"}') == '{"ua_password": "********"}'


def test_redacting_log_filter(stored, caplog) -> None:
    resolve()
    logger = logging.getLogger("retsctl.test")
    logger.addFilter(secrets.RedactingFilter())
    with caplog.at_level(logging.INFO, logger="retsctl.test"):
        logger.info("sent %s", "from-keyring")
    assert caplog.messages == ["sent ********"]


def test_home_follows_retsctl_home(retsctl_home: Path) -> None:
    assert config.home() == retsctl_home and retsctl_home.is_dir()
    assert config.db_path() == retsctl_home / "retsctl.db"
    assert config.config_file() == retsctl_home / "config.toml"
    assert config.logs_dir() == retsctl_home / "logs" and config.logs_dir().is_dir()


def test_home_defaults_to_the_platform_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RETSCTL_HOME")
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda name: str(tmp_path / "data" / name))
    assert config.home() == tmp_path / "data" / "retsctl"
