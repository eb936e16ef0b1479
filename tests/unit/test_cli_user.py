"""``cardservice user add|list|disable|reset-password``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cardservice.cli.main import cli
from cardservice.console import passwords
from cardservice.store.users import UserStore


def _run(home, *args, input=None):
    return CliRunner().invoke(cli, ["--home", str(home), "user", *args], input=input)


def test_add_asks_twice_list_disable_reset(tmp_path):
    home = tmp_path / "home"
    added = _run(home, "add", "alice", "--role", "operator",
                 input="a good passphrase\na good passphrase\n")
    assert added.exit_code == 0, added.output
    mismatch = _run(home, "add", "bob", "--role", "admin", input="one passphrase\ntwo pass\n"
                    "one passphrase\none passphrase\n")
    assert mismatch.exit_code == 0 and "match" in mismatch.output.lower()
    listed = json.loads(_run(home, "list", "--json").output)
    assert [(u["name"], u["role"], u["disabled_at"]) for u in listed] == [
        ("alice", "operator", None), ("bob", "admin", None)]
    assert "passphrase" not in _run(home, "list").output
    assert _run(home, "disable", "alice").exit_code == 0
    assert json.loads(_run(home, "list", "--json").output)[0]["disabled_at"]
    pw = tmp_path / "pw"
    pw.write_text("a new passphrase\n")
    assert _run(home, "reset-password", "alice", "--password-file", str(pw)).exit_code == 0
    store = UserStore(home / "users.db")
    assert store.get("alice").active
    assert passwords.verify_password("a new passphrase", store.password_hash("alice"))
    assert oct((home / "users.db").stat().st_mode & 0o777) == "0o600"


def test_bad_role_and_short_password(tmp_path):
    home = tmp_path / "home"
    assert _run(home, "add", "x", "--role", "root", input="").exit_code != 0
    pw = tmp_path / "pw"
    pw.write_text("short\n")
    result = _run(home, "add", "x", "--role", "reader", "--password-file", str(pw))
    assert result.exit_code != 0
