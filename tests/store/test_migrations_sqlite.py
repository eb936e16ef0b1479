"""Schema migrations on SQLite: a data directory of the previous version is refused with the
command to run, `cardservice db upgrade` brings it up in place, data kept."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from cardservice.cli.main import main
from cardservice.errors import SchemaOutdatedError
from cardservice.store import registry_schema as registry_mod
from cardservice.store import tokens as tokens_mod
from cardservice.store.registry import Registry
from cardservice.store.stores import Stores
from cardservice.store.tokens import TokenStore

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _legacy(path, script: str, insert: str | None = None) -> None:
    """A file as the software before migrations wrote it: schema 1 in PRAGMA user_version."""
    raw = sqlite3.connect(path)
    raw.executescript(script)
    if insert:
        raw.execute(insert)
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()


@pytest.fixture
def old_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    _legacy(home / "registry.db", registry_mod._V1_SQLITE,
            "INSERT INTO cards VALUES ('0123456789abcdef', '11010519491231002X', 'active', 3, "
            "'a', 'temporary', NULL, '2026-09-01', NULL, NULL, "
            "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00')")
    _legacy(home / "tokens.db", tokens_mod._V1_SQLITE)
    return home


def test_old_schema_is_refused_with_the_command_to_run(old_home):
    with pytest.raises(SchemaOutdatedError, match=r"version 1, .*needs version 4: run "
                       r"`cardservice db upgrade`"):
        Registry(old_home / "registry.db")


def test_upgrade_in_place_keeps_the_data(old_home):
    stores = Stores(old_home)
    before = {s.component: s.state for s in stores.status()}
    assert before["registry"] == "outdated" and before["tokens"] == "outdated"
    applied = stores.upgrade()
    assert applied["registry"] == [2, 3, 4] and applied["tokens"] == [2]
    assert {s.state for s in stores.status()} == {"current"}
    assert stores.upgrade()["registry"] == []  # again: nothing to do
    row = stores.registry().get("0123456789abcdef")
    assert (row.last_sequence, row.status.value, row.issued_site) == (3, "active", None)
    assert row.expires_on == date(2026, 9, 1)
    _, info = stores.tokens().create("certifier app", "certifier", NOW)
    assert info.role.value == "certifier"
    stores.close()


def test_fresh_directory_is_created_at_the_newest_version(tmp_path):
    stores = Stores(tmp_path / "new")
    stores.check_current()
    assert {s.state for s in stores.status()} == {"current"}
    stores.close()


def test_certifier_token_on_a_new_store(tmp_path):
    store = TokenStore(tmp_path / "tokens.db")
    assert store.create("c", "certifier", NOW)[1].role.value == "certifier"


def test_db_status_and_upgrade_commands(old_home, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--home", str(old_home), "db", "status"])
    assert exit_info.value.code == 1
    assert "registry       version 1 (needs 4)  outdated" in capsys.readouterr().out
    main(["--home", str(old_home), "db", "upgrade"])
    main(["--home", str(old_home), "db", "status"])
    assert "outdated" not in capsys.readouterr().out


def test_daemon_refuses_to_start_on_an_old_schema(old_home):
    proc = subprocess.run(
        [sys.executable, "-m", "cardservice", "--home", str(old_home), "serve", "--port", "0"],
        check=False, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "CARDSERVICE_HOME": str(old_home)})
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error SCHEMA_OUTDATED: ")
    assert "run `cardservice db upgrade`" in lines[-1]
