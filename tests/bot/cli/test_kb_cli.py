"""`frontdoor kb import / export` against a real Redis."""

import json
import re

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from core.redis import sync_text_client
from core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def kb_db(redis_server, monkeypatch):
    url = f"{redis_server}/7"
    monkeypatch.setenv("FRONTDOOR_REDIS_URL", url)
    get_settings.cache_clear()  # a process reads its settings once; each test is a new "process"
    client = sync_text_client(url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()
    get_settings.cache_clear()


def articles(client) -> dict[str, str]:
    return {k: client.get(k) for k in client.scan_iter("fd:{kb}:article:*")
            if not k.endswith(":versions")}


@pytest.mark.parametrize("fmt, name", [("md", "folder"), ("csv", "kb.csv")])
def test_export_then_import_into_an_empty_store_restores_every_article(kb_db, tmp_path, fmt,
                                                                       name):
    target = tmp_path / name
    exported = runner.invoke(app, ["kb", "export", str(target), "--format", fmt])
    assert exported.exit_code == 0, exported.output
    assert re.search(r"Wrote \d\d articles", exported.output)  # the seeds, loaded on first use
    before = articles(kb_db)

    kb_db.flushdb()
    kb_db.set("fd:{kb}:seeded", "1")  # an empty store that will not seed itself
    imported = runner.invoke(app, ["kb", "import", str(target), "--author", "ci"])
    assert imported.exit_code == 0, imported.output
    assert f"{len(before)} created" in imported.output

    def content(raw: bytes) -> dict:
        data = json.loads(raw)
        return {k: v for k, v in data.items() if k not in ("version", "updated_at", "updated_by")}
    after = articles(kb_db)
    assert {k: content(v) for k, v in after.items()} == {k: content(v) for k, v in before.items()}
    assert {json.loads(v)["updated_by"] for v in after.values()} == {"ci"}


def test_a_bad_file_is_reported_and_imports_nothing(kb_db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,title,questions,answer\nok,Fine,q,a\nBad Id,t,q,a\n", encoding="utf-8")
    result = runner.invoke(app, ["kb", "import", str(bad)])
    assert result.exit_code == 2
    assert "Nothing was imported" in result.output and "line 3" in result.output
    assert articles(kb_db) == {}
