"""examples/acceptance_point.py against the real daemon: it pairs (a clerk approves its code
with the CLI), finds the card, shows holder and verdict, and re-signs it after a move."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cardservice.client import Client

pytestmark = pytest.mark.pcsc
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acceptance_point.py"
CITIZEN = {"name": "周八", "gender": "male", "nationality": "01",
           "citizen_number": "110105199001011232", "household_address": "北京市丰台区4号"}


def _line_with(proc: subprocess.Popen, text: str, seen: list[str]) -> str:
    for line in proc.stdout:
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"no {text!r} in the output:\n{''.join(seen)}")


def test_pair_show_and_resign(daemon, served, tmp_path):
    with Client(daemon.url, token=daemon.secret) as admin:
        rid = next(r.id for r in admin.readers() if r.name == served.reader)
        blank = admin.read_card(rid)
        card = admin.issue(rid, CITIZEN, {"current_residence": "示范县旧址1号",
                                          "permit_type": "temporary"},
                           card_serial=blank.card_serial)
    token_file = tmp_path / "token"
    proc = subprocess.Popen([sys.executable, str(EXAMPLE), "--url", daemon.url, "--token-file",
                             str(token_file), "--reader", served.reader, "--once"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        code = _line_with(proc, "Pairing code:", seen).split()[2]
        subprocess.run([sys.executable, "-c", "from cardservice.cli.main import main; main()",
                        "--home", str(daemon.home), "pairing", "approve", code,
                        "--role", "operator"], check=True, capture_output=True, timeout=60)
        _line_with(proc, "Paired.", seen)
        assert "周八" in _line_with(proc, "Holder:", seen)
        assert "VALID" in _line_with(proc, "Verdict:", seen)
        proc.stdin.write("示范县新址2号\n")
        proc.stdin.flush()
        resigned = _line_with(proc, "Re-signed:", seen)
        assert proc.wait(30) == 0, "".join(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert "示范县新址2号" in resigned and "(issue 2)" in resigned
    assert token_file.stat().st_mode & 0o777 == 0o600
    with Client(daemon.url, token=daemon.secret) as admin:
        assert admin.read_card(rid).residence.current_residence == "示范县新址2号"
        assert admin.registry_card(card.card_serial).last_sequence == 2
