"""The command line as a whole: help with examples, usage errors, the bug path, colour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer.main

from retsctl import __version__
from retsctl.cli import login as login_module
from retsctl.cli.app import app


def command_paths(command=None, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    command = command or typer.main.get_command(app)
    paths = []
    for name, sub in getattr(command, "commands", {}).items():
        paths.append((*prefix, name))
        paths.extend(command_paths(sub, (*prefix, name)))
    return paths


def test_the_expected_commands_exist() -> None:
    assert set(command_paths()) >= {
        ("login",), ("logout",), ("query",), ("objects",), ("simulate",), ("metadata",),
        ("metadata", "resources"), ("metadata", "classes"), ("metadata", "fields"),
        ("metadata", "lookups"), ("metadata", "objects"),
    }


@pytest.mark.parametrize("path", [(), *command_paths()], ids=lambda p: " ".join(p) or "retsctl")
def test_every_command_has_help_with_an_example(run_cli, path) -> None:
    result = run_cli(*path, "--help", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Example: retsctl" in result.stdout


def test_server_commands_accept_the_connection_options(run_cli) -> None:
    for path in [("login",), ("query",), ("objects",), ("metadata", "fields")]:
        text = run_cli(*path, "--help", env={"COLUMNS": "200"}).stdout
        for option in ("--profile", "--url", "--username", "--password", "--user-agent", "--ua-password",
                       "--rets-version", "--auth", "--timeout", "--insecure", "--verbose", "--record"):
            assert option in text, (path, option)


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"retsctl {__version__}"


@pytest.mark.parametrize("args", [
    ["login", "--no-such-option"],
    ["query", "Property", "RES", "(A=1)", "--format", "xml"],
    ["login", "--auth", "ntlm"],
])
def test_bad_usage_exits_2(run_cli, args) -> None:
    assert run_cli(*args).exit_code == 2


def test_an_unexpected_error_says_bug_and_leaves_a_redacted_log(run_cli, conn, simulator, monkeypatch) -> None:
    def broken(session):
        raise RuntimeError(f"could not summarise, password was {simulator.password}")

    monkeypatch.setattr(login_module, "login_summary", broken)
    result = run_cli("login", *conn, "--json")
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "a bug in retsctl" in error["message"]
    log_path = Path(error["hint"].rsplit(" ", 1)[-1])
    assert log_path.parent.name == "logs" and log_path.is_file()
    log_text = log_path.read_text()
    assert "RuntimeError" in log_text and "Traceback" in log_text
    assert simulator.password not in log_text + result.stdout + result.stderr
    assert "password was ********" in log_text


@pytest.mark.parametrize(("no_color", "expect_colour"), [(False, True), (True, False)])
def test_no_color_is_respected(run_cli, no_color, expect_colour) -> None:
    env = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1"} | ({"NO_COLOR": "1"} if no_color else {})
    result = run_cli("login", "--profile", "p", env=env)
    assert result.exit_code == 2
    assert ("\x1b[31" in result.stderr or "\x1b[1;31" in result.stderr) is expect_colour
