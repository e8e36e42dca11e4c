"""The installed `retsctl` as real processes: `simulate` serving, `login` and `query` talking to it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

RETSCTL = [sys.executable, "-m", "retsctl"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No real keyring, a private RETSCTL_HOME, no password from the caller's environment."""
    clean = {k: v for k, v in os.environ.items() if k not in ("RETSCTL_PASSWORD", "RETSCTL_UA_PASSWORD")}
    return clean | {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "RETSCTL_HOME": str(tmp_path / "home")}


def start_simulate(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*RETSCTL, "simulate", "--listings", "25", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=20)


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[dict[str, str]]:
    process = start_simulate(env, "--json")
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        if process.poll() is None:
            stop(process)


def retsctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RETSCTL, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60)


def test_simulate_announces_itself_and_stops_cleanly_on_sigterm(env) -> None:
    process = start_simulate(env, "--port", "0")
    assert process.stdout is not None
    lines = [process.stdout.readline().rstrip("\n") for _ in range(3)]
    assert lines[0].startswith("login_url: http://127.0.0.1:") and lines[0].endswith("/rets/Login")
    assert lines[1:] == ["username: demo", "password: demo-password"]
    assert stop(process) == 0


def test_login_and_query_against_a_served_simulator(env, served) -> None:
    conn = ["--url", served["login_url"], "--username", served["username"]]
    with_password = env | {"RETSCTL_PASSWORD": served["password"]}

    login = retsctl(with_password, "login", *conn, "--json")
    assert login.returncode == 0, login.stderr
    assert json.loads(login.stdout)["capabilities"]["Search"].endswith("/rets/Search")

    query = retsctl(with_password, "query", "Property", "RES", "(ListPrice=0+)", *conn, "--format", "jsonl",
                    "--select", "ListingKey,ListPrice")
    assert query.returncode == 0, query.stderr
    records = [json.loads(line) for line in query.stdout.splitlines()]
    count = retsctl(with_password, "query", "Property", "RES", "(ListPrice=0+)", *conn, "--count", "--json")
    assert len(records) == json.loads(count.stdout)["count"] > 0
    assert all(set(r) == {"ListingKey", "ListPrice"} for r in records)


def test_without_a_password_or_terminal_login_exits_2(env, served) -> None:
    result = retsctl(env, "login", "--url", served["login_url"], "--username", "demo")
    assert result.returncode == 2
    assert "RETSCTL_PASSWORD" in result.stderr


def test_wrong_password_exits_3_without_echoing_it(env, served) -> None:
    secret = "N0t-The-Pa55word"
    result = retsctl(env | {"RETSCTL_PASSWORD": secret}, "login", "--url", served["login_url"], "--username", "demo",
                     "--verbose")
    assert result.returncode == 3
    assert secret not in result.stdout + result.stderr


def test_a_recorded_session_can_be_served_back_with_replay(env, served, tmp_path: Path) -> None:
    capture = tmp_path / "session.har"
    conn = ["--url", served["login_url"], "--username", served["username"]]
    recorded = retsctl(env | {"RETSCTL_PASSWORD": served["password"]}, "login", *conn, "--json", "--record", str(capture))
    assert recorded.returncode == 0, recorded.stderr
    assert served["password"] not in capture.read_text()

    replay = start_simulate(env, "--replay", str(capture), "--json")
    try:
        assert replay.stdout is not None
        replayed = json.loads(replay.stdout.readline())
        path = served["login_url"].split("/", 3)[3]
        assert replayed["login_url"].endswith(path)
        again = retsctl(env | {"RETSCTL_PASSWORD": "anything"}, "login", "--url", replayed["login_url"],
                        "--username", served["username"], "--json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["member"] == json.loads(recorded.stdout)["member"]
    finally:
        assert stop(replay) == 0


def test_quirk_flags_reach_the_simulator(env) -> None:
    process = start_simulate(env, "--json", "--count-off-by-one", "--auth", "basic")
    try:
        assert process.stdout is not None
        served = json.loads(process.stdout.readline())
        conn = ["--url", served["login_url"], "--username", "demo", "--password", served["password"]]
        counted = retsctl(env, "query", "Property", "RES", "(ListPrice=0+)", *conn, "--count", "--json", "--verbose")
        listed = retsctl(env, "query", "Property", "RES", "(ListPrice=0+)", *conn, "--format", "jsonl",
                         "--select", "ListingKey,ListPrice")
        assert counted.returncode == listed.returncode == 0, counted.stderr + listed.stderr
        assert json.loads(counted.stdout)["count"] == len(listed.stdout.splitlines()) + 1
        assert "Authorization: ********" in counted.stderr and "using basic" in counted.stderr
    finally:
        assert stop(process) == 0
