"""``cardservice card renew|issue --evidence KIND REFERENCE`` on an in-process simulated card
(no pcscd): a renewal to long-term, and a direct long-term issue, are refused without it and
audited with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from cardservice.cli.main import cli
from cardservice.engine.service import Service
from cardservice.errors import PolicyError
from cardservice.pki.keys import DataDir, init_demo
from simulator.devkeys import load_dev_master_keys
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import make_card

ISSUE = ["--name", "王五", "--gender", "male", "--nationality", "维吾尔族",
         "--citizen-number", "110105199001011232", "--household-address", "新疆博乐市红星路1号",
         "--residence", "博乐市团结路2号", "--permit-type", "temporary"]


def _runner(tmp_path, monkeypatch):
    home = tmp_path / "home"
    init_demo(DataDir(home), now=datetime.now(UTC) - timedelta(days=1),
              masters=load_dev_master_keys())
    conn = InProcessConnection(make_card())
    monkeypatch.setattr(Service, "connect", lambda self, name: conn)
    monkeypatch.setenv("CARDSERVICE_REQUIRE_APPLICATIONS", "false")

    def run(*args: str):
        return CliRunner().invoke(cli, ["--home", str(home), "card", *args, "--yes", "--json"])

    return home, run


def test_card_issue_long_term_takes_evidence(tmp_path, monkeypatch):
    home, run = _runner(tmp_path, monkeypatch)
    long_term = ("issue", *ISSUE[:-1], "long_term", "--basis", "1")
    refused = run(*long_term)
    assert isinstance(refused.exception, PolicyError)
    assert refused.exception.rule == "basis_evidence_required"
    issued = run(*long_term, "--evidence", "lease_contract", "HT-2026-0042")
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.output)["residence"]["basis"] == 1
    intent = next(e for e in Service.open(home).engine.audit.entries(limit=5)
                  if e.kind == "intent")
    assert (intent.operation, intent.detail["evidence"]) == (
        "issue", {"kind": "lease_contract", "reference": "HT-2026-0042"})


def test_card_renew_takes_evidence(tmp_path, monkeypatch):
    home, run = _runner(tmp_path, monkeypatch)
    assert run("issue", *ISSUE).exit_code == 0
    long_term = ("renew", "--permit-type", "long_term", "--basis", "3")
    refused = run(*long_term)
    assert isinstance(refused.exception, PolicyError)  # main() maps it to the exit code
    assert refused.exception.rule == "basis_evidence_required"
    renewed = run(*long_term, "--evidence", "business_licence", "91650000MA0000000X")
    assert renewed.exit_code == 0, renewed.output
    residence = json.loads(renewed.output)["residence"]
    assert (residence["permit_type"], residence["basis"]) == ("long_term", 3)
    service = Service.open(home)
    intent = next(e for e in service.engine.audit.entries(limit=5) if e.kind == "intent")
    assert intent.operation == "renew"
    assert intent.detail["evidence"] == {"kind": "business_licence",
                                         "reference": "91650000MA0000000X"}
