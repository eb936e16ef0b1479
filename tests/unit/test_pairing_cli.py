"""`cardservice pairing list|approve CODE --role reader|operator|deny` on a data directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cardservice.cli.main import cli
from cardservice.engine.operations import utc_now
from cardservice.pairing import PairingService
from cardservice.pki.keys import DataDir
from cardservice.store.audit import AuditLog
from cardservice.store.pairing import PairingStore
from cardservice.store.tokens import TokenStore


def _service(home: Path) -> PairingService:
    data = DataDir(home)
    data.ensure()
    return PairingService(PairingStore(home / "pairing.db"), TokenStore(data.tokens_db),
                          lambda: AuditLog(data.audit_db), utc_now)


def _run(home: Path, *args: str):
    return CliRunner().invoke(cli, ["--home", str(home), "pairing", *args])


def test_list_approve_and_collect(tmp_path: Path):
    service = _service(tmp_path)
    req = service.request("Counter 2")
    listed = _run(tmp_path, "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(r["code"], r["app_name"]) for r in json.loads(listed.output)] == [
        (req.code, "Counter 2")]
    assert req.code in _run(tmp_path, "list").output
    approved = _run(tmp_path, "approve", req.code.replace("-", "").lower(), "--role", "reader")
    assert approved.exit_code == 0 and "approved as reader" in approved.output
    poll = service.poll(req.id)
    assert poll.status == "approved" and poll.token and poll.role == "reader"
    assert TokenStore(DataDir(tmp_path).tokens_db).authenticate(poll.token).role.value == "reader"
    assert _run(tmp_path, "list").output.strip() == "no pending pairing requests"
    ops = [e.operation for e in AuditLog(DataDir(tmp_path).audit_db).entries(limit=10)]
    assert sorted(ops) == ["pairing_approved", "pairing_requested", "pairing_token_issued"]


def test_deny(tmp_path: Path):
    service = _service(tmp_path)
    req = service.request("Counter 3")
    out = _run(tmp_path, "approve", req.code, "--role", "deny")
    assert out.exit_code == 0 and "denied" in out.output
    assert service.poll(req.id).status == "denied" and service.poll(req.id).token is None


def test_unknown_code_fails(tmp_path: Path):
    out = _run(tmp_path, "approve", "ABC-DEF", "--role", "reader")
    assert out.exit_code != 0
    assert out.exception is not None and getattr(out.exception, "code", "") == "NOT_FOUND"
