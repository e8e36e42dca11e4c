"""Migrations against a real PostgreSQL 15: idempotence, the Vault part skipped on plain Postgres,
and (with the test-only Vault stand-in) credentials stored and replaced only in Vault. Also the
``retsctl db`` and ``retsctl secrets push`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
import typer
from pg import migrated_dsn_fixture, postgres_dsn_fixture, postgres_server_fixture, query, scalar  # noqa: F401
from typer.testing import CliRunner

from retsctl.cli.db import db_app
from retsctl.cli.secrets_cmd import secrets_app
from retsctl.sinks import SinkError, apply_migrations, migrations_sql, store_rets_credentials

VAULT_STANDIN = (Path(__file__).parent / "vault_standin.sql").read_text(encoding="utf-8")
ALL_MIGRATIONS = ["001_properties", "002_sync_runs", "003_enrichment_jobs", "004_rets_credentials"]
STORE_FUNCTION = "retsctl.store_rets_credentials(text, text, text, text, text, text, text)"
PASSWORD = "s3cret-Pässword!"
UA_PASSWORD = "ua-S3cret"


def retsctl_with(sub_app: typer.Typer, name: str) -> typer.Typer:
    """A root app with the sub-app registered as the lead does in retsctl/cli/app.py."""
    root = typer.Typer()
    root.add_typer(sub_app, name=name)
    return root


def execute(dsn: str, script: str) -> list[str]:
    """Run a script; returns the notices it raised."""
    notices: list[str] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        conn.execute(script)
    return notices


@pytest.fixture
def vault_dsn(postgres_dsn: str) -> str:
    """A Supabase-like database: the roles and the test-only Vault stand-in, then the migrations."""
    execute(postgres_dsn, "".join(
        f"DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        for role in ("anon", "authenticated", "service_role")) + VAULT_STANDIN)
    assert apply_migrations(postgres_dsn) == ALL_MIGRATIONS
    return postgres_dsn


def tables_holding(dsn: str, text: str) -> list[str]:
    """Every table (any schema but the catalogs) with a row whose text contains ``text``."""
    tables = query(dsn, "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables "
                        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
    return [name for (name,) in tables
            if scalar(dsn, f"SELECT count(*) FROM {name} AS t WHERE t::text LIKE %s", [f"%{text}%"])]


def test_migrations_apply_once_then_nothing_and_skip_vault_with_a_notice(postgres_dsn: str) -> None:
    notices: list[str] = []
    assert apply_migrations(postgres_dsn, on_notice=notices.append) == ALL_MIGRATIONS
    assert len(notices) == 1
    assert notices[0].startswith("retsctl: Supabase Vault not found")

    assert apply_migrations(postgres_dsn, on_notice=notices.append) == []
    assert len(notices) == 1
    assert [v for (v,) in query(postgres_dsn, "SELECT version FROM retsctl.schema_migrations ORDER BY 1")] == [
        "001", "002", "003", "004"]
    assert scalar(postgres_dsn, "SELECT to_regclass('retsctl.rets_sources') IS NULL")
    assert scalar(postgres_dsn, "SELECT to_regprocedure(%s) IS NULL", [STORE_FUNCTION])
    indexes = {name for (name,) in query(postgres_dsn, "SELECT indexname FROM pg_indexes WHERE tablename = 'properties'")}
    assert {"properties_team_source_external_key", "properties_team_status_idx", "properties_team_modified_idx"} <= indexes


def test_the_sql_editor_script_runs_twice_and_agrees_with_migrate(postgres_dsn: str) -> None:
    script = migrations_sql()
    assert script.count("-- ---- 00") == 4
    execute(postgres_dsn, script)
    notices = execute(postgres_dsn, script)

    assert any(n.startswith("retsctl: Supabase Vault not found") for n in notices)
    assert scalar(postgres_dsn, "SELECT count(*) FROM retsctl.schema_migrations") == 4
    assert apply_migrations(postgres_dsn) == []


def test_credentials_are_stored_and_replaced_in_vault_only(vault_dsn: str) -> None:
    first = store_rets_credentials(vault_dsn, "team-1", "demo", "https://rets.example.com/Login", "agent7",
                                   PASSWORD, user_agent="Acme/1.0", ua_password=UA_PASSWORD)
    replaced = store_rets_credentials(vault_dsn, "team-1", "demo", "https://rets.example.com/Login", "agent7",
                                      "new-" + PASSWORD, user_agent="Acme/1.0", ua_password=UA_PASSWORD)

    assert replaced == first
    secrets = query(vault_dsn, "SELECT name, decrypted_secret FROM vault.decrypted_secrets ORDER BY name")
    assert secrets == [("retsctl:team-1:demo:password", "new-" + PASSWORD),
                       ("retsctl:team-1:demo:ua_password", UA_PASSWORD)]
    assert query(vault_dsn, "SELECT login_url, username, user_agent, password_secret_id::text IS NOT NULL, "
                            "ua_password_secret_id IS NOT NULL FROM retsctl.rets_sources") == [
        ("https://rets.example.com/Login", "agent7", "Acme/1.0", True, True)]
    assert scalar(vault_dsn, "SELECT password_secret_id::text FROM retsctl.rets_sources") == first
    for secret in (PASSWORD, UA_PASSWORD):
        assert tables_holding(vault_dsn, secret) == []
    # The scan itself works: the user name is in the sources table and the secrets' descriptions.
    assert sorted(tables_holding(vault_dsn, "agent7")) == ["retsctl.rets_sources", "vault.secrets"]


def test_dropping_the_ua_password_removes_its_secret(vault_dsn: str) -> None:
    store_rets_credentials(vault_dsn, "t", "s", "https://x/Login", "u", PASSWORD, ua_password=UA_PASSWORD)
    store_rets_credentials(vault_dsn, "t", "s", "https://x/Login", "u", PASSWORD)

    assert [name for (name,) in query(vault_dsn, "SELECT name FROM vault.secrets")] == ["retsctl:t:s:password"]
    assert scalar(vault_dsn, "SELECT ua_password_secret_id FROM retsctl.rets_sources") is None


def test_only_service_role_may_call_the_credentials_function(vault_dsn: str) -> None:
    allowed = {role: scalar(vault_dsn, "SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, STORE_FUNCTION])
               for role in ("anon", "authenticated", "service_role")}
    assert allowed == {"anon": False, "authenticated": False, "service_role": True}


def test_storing_credentials_without_vault_says_what_to_do(migrated_dsn: str) -> None:
    with pytest.raises(SinkError) as raised:
        store_rets_credentials(migrated_dsn, "t", "s", "https://x/Login", "u", PASSWORD)
    assert "Vault" in raised.value.hint
    assert PASSWORD not in raised.value.message


def test_enrichment_trigger_counts_inserts_and_real_changes_only(migrated_dsn: str) -> None:
    execute(migrated_dsn, """
        INSERT INTO properties (team_id, source, external_id, list_price, status) VALUES
            ('t', 's', 'A', 100, 'active'), ('t', 's', 'B', 200, 'active');
        UPDATE properties SET list_price = 100 WHERE external_id = 'A';
        UPDATE properties SET synced_at = now() WHERE external_id = 'B';
        UPDATE properties SET status = 'closed' WHERE external_id = 'B';
        UPDATE properties SET status = 'pending' WHERE external_id = 'B';
    """)
    assert query(migrated_dsn, "SELECT external_id, reason, changed_columns FROM enrichment_jobs ORDER BY id") == [
        ("A", "insert", ["external_id", "address", "list_price", "bedrooms", "bathrooms", "square_feet",
                         "year_built", "status", "description", "photo_urls"]),
        ("B", "insert", ["external_id", "address", "list_price", "bedrooms", "bathrooms", "square_feet",
                         "year_built", "status", "description", "photo_urls"]),
        ("B", "update", ["status"]),
        ("B", "update", ["status"]),
    ]


# ---- the commands ----


def test_db_migrate_command_applies_then_reports_nothing_to_do(postgres_dsn: str) -> None:
    runner = CliRunner()
    first = runner.invoke(db_app, ["migrate", "--dsn", postgres_dsn, "--json"])
    second = runner.invoke(db_app, ["migrate"], env={"RETSCTL_DSN": postgres_dsn})

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["applied"] == ALL_MIGRATIONS
    assert "Supabase Vault not found" in first.stderr
    assert second.exit_code == 0
    assert second.stdout == "Nothing to apply: the database is up to date.\n"


def test_db_migrate_without_a_dsn_is_a_usage_error() -> None:
    result = CliRunner().invoke(db_app, ["migrate"], env={"RETSCTL_DSN": ""})
    assert result.exit_code == 2
    assert "--dsn" in result.stderr


def test_db_migrate_on_an_unreachable_database_exits_4(postgres_server) -> None:
    result = CliRunner().invoke(db_app, ["migrate", "--dsn", postgres_server.dsn("no_such_db"), "--json"])
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["kind"] == "sink"


def test_db_sql_prints_the_script() -> None:
    result = CliRunner().invoke(db_app, ["sql"])
    assert result.exit_code == 0
    assert result.stdout == migrations_sql()


def test_secrets_push_command_stores_in_vault_and_never_prints_the_password(vault_dsn: str) -> None:
    result = CliRunner().invoke(retsctl_with(secrets_app, "secrets"), [
        "secrets", "push", "--team-id", "team-9", "--dsn", vault_dsn, "--url", "https://rets.example.com/Login",
        "--username", "agent7", "--user-agent", "Acme/1.0", "--json",
    ], env={"RETSCTL_PASSWORD": PASSWORD, "RETSCTL_UA_PASSWORD": UA_PASSWORD})

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["source"] == "https://rets.example.com/Login"
    assert PASSWORD not in result.output and UA_PASSWORD not in result.output
    assert query(vault_dsn, "SELECT name, decrypted_secret FROM vault.decrypted_secrets ORDER BY name") == [
        ("retsctl:team-9:https://rets.example.com/Login:password", PASSWORD),
        ("retsctl:team-9:https://rets.example.com/Login:ua_password", UA_PASSWORD)]
    assert scalar(vault_dsn, "SELECT password_secret_id::text FROM retsctl.rets_sources") == shown["password_secret_id"]


def test_secrets_push_on_plain_postgres_exits_4_with_a_hint(migrated_dsn: str) -> None:
    result = CliRunner().invoke(retsctl_with(secrets_app, "secrets"), [
        "secrets", "push", "--team-id", "t", "--dsn", migrated_dsn, "--url", "https://x/Login", "--username", "u",
        "--password", PASSWORD])
    assert result.exit_code == 4
    assert "Vault" in result.stderr
    assert PASSWORD not in result.output
