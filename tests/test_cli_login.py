"""`retsctl login` / `logout` against the real simulator: JSON shape, password sources, failures."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from retsctl.secrets import KEYRING_SERVICE, keyring_account, ua_keyring_account

LOGIN_KEYS = {
    "ok", "rets_version", "server", "capabilities", "member", "broker",
    "metadata_version", "metadata_timestamp", "elapsed_ms",
}
WRONG_PASSWORD = "Wr0ng-Pa55word-7731"


def test_login_json_has_exactly_the_contract_shape(run_cli, conn, simulator) -> None:
    result = run_cli("login", *conn, "--json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == LOGIN_KEYS
    assert body["ok"] is True
    assert body["rets_version"] == "RETS/1.7.2"
    assert body["server"].startswith("retsctl-simulator")
    base = simulator.login_url.rsplit("/", 1)[0]
    assert body["capabilities"]["Search"] == f"{base}/Search"
    assert body["capabilities"]["GetMetadata"] == f"{base}/GetMetadata"
    assert all(url.startswith("http://127.0.0.1:") for url in body["capabilities"].values())
    assert body["member"] == "Demo Agent"
    assert body["metadata_version"] == "1.00.00042"
    assert isinstance(body["elapsed_ms"], int) and body["elapsed_ms"] >= 0


def test_login_human_output_lists_capabilities(run_cli, conn) -> None:
    result = run_cli("login", *conn)
    assert result.exit_code == 0, result.stderr
    assert "GetMetadata" in result.stdout
    assert "1.00.00042" in result.stdout


def test_connection_options_work_before_the_command_name(run_cli, conn) -> None:
    result = run_cli(*conn, "login", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["member"] == "Demo Agent"


def test_options_after_the_command_win_over_those_before(run_cli, conn, simulator) -> None:
    result = run_cli("--password", WRONG_PASSWORD, "login", *conn, "--json")
    assert result.exit_code == 0, result.stderr


def test_wrong_password_exits_3_and_never_shows_the_password(run_cli, simulator, retsctl_home: Path) -> None:
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo", "--password", WRONG_PASSWORD,
                     "--json", "--verbose")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "auth"
    assert "401" in error["message"]
    assert error["hint"]
    assert "Error: authentication refused" in result.stderr
    assert WRONG_PASSWORD not in result.stdout + result.stderr
    assert not any(WRONG_PASSWORD in f.read_text() for f in retsctl_home.rglob("*") if f.is_file() and f.suffix == ".log")


def test_password_from_environment(run_cli, simulator) -> None:
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo", "--json",
                     env={"RETSCTL_PASSWORD": simulator.password})
    assert result.exit_code == 0, result.stderr


def test_password_from_keyring(run_cli, simulator, memory_keyring) -> None:
    memory_keyring.set_password(KEYRING_SERVICE, keyring_account(simulator.login_url, "demo"), simulator.password)
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo", "--json")
    assert result.exit_code == 0, result.stderr


def test_flag_beats_environment(run_cli, simulator) -> None:
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo", "--password", simulator.password,
                     env={"RETSCTL_PASSWORD": WRONG_PASSWORD})
    assert result.exit_code == 0, result.stderr


def test_missing_password_without_a_terminal_is_a_usage_error(run_cli, simulator) -> None:
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "input"
    for option in ("--password", "RETSCTL_PASSWORD", "keyring set retsctl"):
        assert option in error["hint"]


def test_unusable_keyring_falls_through_to_the_usage_error(run_cli, simulator) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # what a headless box without D-Bus has
    result = run_cli("login", "--url", simulator.login_url, "--username", "demo")
    assert result.exit_code == 2
    assert "no password for demo" in result.stderr


def test_profile_is_reserved_for_later(run_cli) -> None:
    result = run_cli("login", "--profile", "mls1", "--json")
    assert result.exit_code == 2
    assert "profiles are not available yet" in json.loads(result.stdout)["error"]["message"]


def test_missing_url_is_a_usage_error(run_cli) -> None:
    result = run_cli("login", "--username", "demo", "--password", "unused-pw")
    assert result.exit_code == 2
    assert "--url" in result.stderr


def test_unreachable_server_exits_4(run_cli) -> None:
    result = run_cli("login", "--url", "http://127.0.0.1:9/rets/Login", "--username", "u", "--password", "unused-pw", "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["kind"] == "network"


def test_verbose_shows_the_exchange_with_secrets_redacted(run_cli, conn, simulator) -> None:
    result = run_cli("login", *conn, "--verbose")
    assert result.exit_code == 0, result.stderr
    assert "> GET " in result.stderr and "/rets/Login" in result.stderr
    assert "Authorization: ********" in result.stderr
    assert 'Digest username="demo"' not in result.stderr
    assert simulator.password not in result.stderr + result.stdout


def test_record_writes_a_har_without_the_password(run_cli, conn, simulator, tmp_path: Path) -> None:
    capture = tmp_path / "login.har"
    result = run_cli("login", *conn, "--record", capture)
    assert result.exit_code == 0, result.stderr
    text = capture.read_text()
    har = json.loads(text)
    urls = [entry["request"]["url"] for entry in har["log"]["entries"]]
    assert urls[0] == simulator.login_url
    assert any(url.endswith("/Logout") for url in urls)
    assert simulator.password not in text
    assert "********" in text


def test_record_into_a_missing_folder_is_a_usage_error(run_cli, conn, tmp_path: Path) -> None:
    result = run_cli("login", *conn, "--record", tmp_path / "nope" / "x.har")
    assert result.exit_code == 2


def test_logout_reports_success(run_cli, conn) -> None:
    result = run_cli("logout", *conn, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


@pytest.fixture(scope="module")
def strict_simulator():
    """A server wanting Basic auth and standard UA-Auth (user agent "retsctl", UA password "ua-secret")."""
    from retsctl.simulator import Quirks, SimulatorConfig, start_simulator

    config = SimulatorConfig(listings=5, quirks=Quirks(auth="basic", ua_auth="standard"), lockout_after=1_000_000)
    with start_simulator(config) as running:
        yield running


def strict_conn(server) -> list[str]:
    return ["--url", server.login_url, "--username", server.username, "--password", server.password,
            "--user-agent", "retsctl"]


def test_ua_auth_and_basic_auth_from_flags(run_cli, strict_simulator) -> None:
    result = run_cli("login", *strict_conn(strict_simulator), "--ua-password", "ua-secret", "--json", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert "RETS-UA-Authorization: ********" in result.stderr
    assert "ua-secret" not in result.stderr + result.stdout


def test_ua_password_from_environment_and_keyring(run_cli, strict_simulator, memory_keyring) -> None:
    from_env = run_cli("login", *strict_conn(strict_simulator), env={"RETSCTL_UA_PASSWORD": "ua-secret"})
    memory_keyring.set_password(KEYRING_SERVICE, ua_keyring_account(strict_simulator.login_url, "retsctl"), "ua-secret")
    from_keyring = run_cli("login", *strict_conn(strict_simulator))
    assert (from_env.exit_code, from_keyring.exit_code) == (0, 0)


def test_missing_ua_password_is_an_auth_failure_with_its_reply_code(run_cli, strict_simulator) -> None:
    result = run_cli("login", *strict_conn(strict_simulator), "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"]["reply_code"] == 20041


def test_insecure_is_said_out_loud(run_cli, conn) -> None:
    result = run_cli("login", *conn, "--insecure")
    assert result.exit_code == 0, result.stderr
    assert "TLS certificate verification is OFF" in result.stderr
