"""`retsctl objects` against the real simulator: saving, URLs only, missing objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def keys(simulator) -> list[str]:
    return simulator.dataset.keys("RES")[:2]


def test_out_saves_each_object_byte_for_byte(run_cli, conn, simulator, keys, tmp_path: Path):
    folder = tmp_path / "photos"
    result = run_cli("objects", "Property", "Photo", f"{keys[0]}:1", f"{keys[1]}:2", *conn, "--out", folder, "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [(o["content_id"], o["object_id"]) for o in listed] == [(keys[0], "1"), (keys[1], "2")]
    for item, (key, number) in zip(listed, [(keys[0], 1), (keys[1], 2)], strict=True):
        saved = Path(item["path"])
        assert saved == folder / f"{key}-{number}.jpg"
        assert saved.read_bytes() == simulator.dataset.photo_bytes(key, "Photo", number)
        assert item["size"] == saved.stat().st_size
        assert item["error"] is None
    assert listed[0]["preferred"] is True


def test_a_bare_key_lists_every_object_without_saving(run_cli, conn, simulator, keys, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("objects", "Property", "Photo", keys[0], *conn, "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    count = simulator.dataset.photo_count(keys[0])
    assert [o["object_id"] for o in listed] == [str(n) for n in range(1, count + 1)]
    assert all(o["path"] is None for o in listed)
    assert list(tmp_path.iterdir()) == []


def test_location_gives_urls_instead_of_bytes(run_cli, conn, simulator, keys, tmp_path: Path):
    result = run_cli("objects", "Property", "Photo", f"{keys[0]}:1", f"{keys[0]}:3", *conn, "--location", "--json",
                     "--out", tmp_path)
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    base = simulator.login_url.split("/rets/")[0]
    assert [o["location"] for o in listed] == [f"{base}/media/Property/Photo/{keys[0]}/{n}.jpg" for n in (1, 3)]
    assert [o["size"] for o in listed] == [0, 0]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [[], ["KEY:1"]])
def test_a_missing_object_is_reported_not_a_failure(run_cli, conn, keys, extra):
    ids = [i.replace("KEY", keys[0]) for i in extra] + ["999999:1"]
    result = run_cli("objects", "Property", "Photo", *ids, *conn, "--json")
    assert result.exit_code == 0, result.stderr
    missing = json.loads(result.stdout)[-1]
    assert missing["error"]["reply_code"] == 20403
    assert missing["path"] is None


def test_human_listing_shows_the_missing_objects_message(run_cli, conn, keys):
    result = run_cli("objects", "Property", "Photo", f"{keys[0]}:1", "999999:1", *conn, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert keys[0] in result.stdout and "No Object Found" in result.stdout


def test_unknown_object_type_is_a_server_failure(run_cli, conn, keys):
    result = run_cli("objects", "Property", "Hologram", keys[0], *conn, "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["reply_code"] == 20401


def test_out_must_be_a_usable_folder(run_cli, conn, keys, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("objects", "Property", "Photo", keys[0], *conn, "--out", blocker / "sub")
    assert result.exit_code == 2
    assert "cannot use --out" in result.stderr
