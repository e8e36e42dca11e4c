"""TEST-ONLY stand-in for the hosted Supabase REST API (PostgREST), which cannot run here.

A small WSGI app, mounted with ``httpx.WSGITransport``, that answers supabase-py's bulk upsert the
way PostgREST does: ``POST /rest/v1/<table>?on_conflict=…&columns=…`` with ``Prefer:
resolution=merge-duplicates, return=…, count=…`` becomes one transaction running
``INSERT INTO t (cols) SELECT cols FROM json_populate_recordset(NULL::t, $1) ON CONFLICT (…) DO
UPDATE SET c = EXCLUDED.c``, against a real PostgreSQL, so constraints and triggers are real.
Failures come back with PostgREST's SQLSTATE → HTTP status mapping and ``{code, message, details,
hint}`` body. Not covered (so not tested through it): JWT roles and RLS, filters, embedding,
``missing=default``, schema-cache (``PGRST…``) errors other than a missing key header.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import psycopg
from psycopg import sql

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable"}
# PostgREST's table (docs.postgrest.org, "Errors"): exact codes first, then by class.
_STATUS_BY_CODE = {"23503": 409, "23505": 409, "25006": 405, "P0001": 400, "42883": 404, "42P01": 404,
                   "42501": 403, "42P17": 500}
_STATUS_BY_CLASS = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500, "38": 500,
                    "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500, "57": 500, "58": 500,
                    "F0": 500, "HV": 500, "XX": 500}


def status_for(sqlstate: str) -> int:
    """The HTTP status PostgREST answers for a SQLSTATE."""
    return _STATUS_BY_CODE.get(sqlstate) or _STATUS_BY_CLASS.get(sqlstate[:2], 400)


def make_app(dsn: str) -> WsgiApp:
    """The WSGI app upserting into the database at ``dsn``."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        match = re.fullmatch(r"/rest/v1/(\w+)", environ["PATH_INFO"])
        if not match or environ["REQUEST_METHOD"] != "POST":
            return _reply(start_response, 404, {"code": "PGRST125", "message": "Invalid path specified in request URL"})
        if not environ.get("HTTP_APIKEY"):
            return _reply(start_response, 401, {"message": "No API key found in request"})
        query = parse_qs(environ.get("QUERY_STRING", ""))
        prefer = _prefer(environ.get("HTTP_PREFER", ""))
        rows = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"[]")
        rows = rows if isinstance(rows, list) else [rows]
        columns = _columns(query, rows)
        statement = _upsert(environ.get("HTTP_CONTENT_PROFILE", "public"), match.group(1), columns, query, prefer)
        try:
            with psycopg.connect(dsn) as conn:  # one transaction per request, like PostgREST
                written = conn.execute(statement, [json.dumps(rows)]).fetchall()
        except psycopg.Error as error:
            state = error.sqlstate or "08000"
            diag = error.diag
            return _reply(start_response, status_for(state), {
                "code": state, "message": diag.message_primary or str(error), "details": diag.message_detail,
                "hint": diag.message_hint})
        headers = [("Content-Range", f"*/{len(written)}" if prefer.get("count") == "exact" else "*/*")]
        body = [row[0] for row in written] if prefer.get("return") == "representation" else None
        return _reply(start_response, 201, body, headers)

    return app


def _prefer(header: str) -> dict[str, str]:
    pairs = (item.strip().partition("=") for item in header.split(",") if item.strip())
    return {name: value for name, _, value in pairs}


def _columns(query: dict[str, list[str]], rows: list[dict[str, Any]]) -> list[str]:
    if "columns" in query:
        return [name.strip().strip('"') for name in query["columns"][0].split(",")]
    return list(rows[0]) if rows else []


def _upsert(schema: str, table: str, columns: list[str], query: dict[str, list[str]], prefer: dict[str, str]) -> sql.Composed:
    target = sql.Identifier(schema, table)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    statement = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM json_populate_recordset(NULL::{t}, %s::json)").format(
        t=target, c=names)
    resolution = prefer.get("resolution")
    if resolution and "on_conflict" in query:
        key = sql.SQL(", ").join(map(sql.Identifier, query["on_conflict"][0].split(",")))
        if resolution == "ignore-duplicates":
            statement += sql.SQL(" ON CONFLICT ({k}) DO NOTHING").format(k=key)
        else:
            sets = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns)
            statement += sql.SQL(" ON CONFLICT ({k}) DO UPDATE SET {s}").format(k=key, s=sets)
    return statement + sql.SQL(" RETURNING row_to_json({t}.*)").format(t=target)


def _reply(start_response: StartResponse, status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(f"{status} {_REASONS.get(status, 'Error')}", [("Content-Type", "application/json"), *(headers or [])])
    return [b"" if body is None else json.dumps(body).encode()]
