"""The technician CLI as a technician runs it: a separate process against a served card."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.pcsc

ISSUE = ["--name", "王五", "--gender", "male", "--nationality", "维吾尔族",
         "--citizen-number", "110105199001011232", "--household-address", "新疆博乐市红星路1号",
         "--residence", "博乐市团结路2号", "--permit-type", "temporary"]


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "CARDSERVICE_HOME": str(tmp_path / "home")}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "cardservice", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run("keys", "init", "--demo")
    return run


def test_counter_workflow(cli, vpcd_card):
    reader, _path, bridge = vpcd_card
    listing = json.loads(cli("readers", "--json").stdout)
    assert {"name": reader, "card_present": True, "atr_hex": bridge.card.atr.hex()} in listing
    blank = json.loads(cli("card", "read", "--reader", reader, "--json").stdout)
    assert blank["state"] == "blank" and blank["verification"]["status"] == "blank"
    issued = cli("card", "issue", "--reader", reader, *ISSUE).stdout
    assert "status: VALID" in issued and "维吾尔 (05)" in issued
    moved = json.loads(cli("card", "resign", "--reader", reader, "--residence", "博乐市幸福路9号",
                           "--json").stdout)
    assert moved["residence"]["sequence"] == 2
    assert moved["residence"]["current_residence"] == "博乐市幸福路9号"
    renewed = json.loads(cli("card", "renew", "--reader", reader, "--permit-type", "long_term",
                             "--basis", "2", "--evidence", "labour_contract", "L-1",
                             "--json").stdout)
    assert (renewed["residence"]["permit_type"], renewed["residence"]["basis"]) == ("long_term", 2)
    assert "chain intact" in cli("audit", "verify").stdout
    serial = renewed["card_serial"]
    assert "is now lost" in cli("card", "revoke", serial, "--reason", "lost").stdout
    revoked = cli("card", "read", "--reader", reader, "--json", ok=False)
    assert revoked.returncode == 4, "a revoked card exits 4 (README exit-code table)"
    assert json.loads(revoked.stdout)["verification"]["status"] == "revoked"


def test_writes_name_the_card_and_vv_shows_apdus(cli, vpcd_card):
    reader, _path, _bridge = vpcd_card
    wrong = cli("card", "issue", "--reader", reader, *ISSUE, "--card-serial", "00" * 8, ok=False)
    assert wrong.returncode == 4 and wrong.stderr.startswith("error CARD_CHANGED: ")
    blank = json.loads(cli("card", "read", "--reader", reader, "--json").stdout)
    assert blank["state"] == "blank", "nothing was written to the card"
    issued = cli("-vv", "card", "issue", "--reader", reader, *ISSUE, "--card-serial",
                 blank["card_serial"].upper())
    assert f"writing to card {blank['card_serial']} (blank)" in issued.stderr
    assert "TRAFFIC" in issued.stderr and " > 00a4" in issued.stderr  # SELECT, as sent
    assert "0082" in issued.stderr and "**" in issued.stderr  # authentication data blanked


def test_errors_are_one_line_with_a_stable_code(cli, vpcd_card, tmp_path):
    reader, _path, _bridge = vpcd_card
    bad = cli("card", "read", "--reader", "no such reader", ok=False)
    assert bad.returncode != 0 and bad.stderr.startswith("error READER_NOT_FOUND: ")
    assert bad.stderr.count("\n") == 1
    wrong = cli("card", "issue", "--reader", reader, *ISSUE[:-4], "--residence", "x",
                "--permit-type", "temporary", "--expires", "2030-01-01", ok=False)
    assert wrong.returncode == 3 and wrong.stderr.startswith("error POLICY_VIOLATION: ")
    unsafe = tmp_path / "home" / "masters.json"
    unsafe.chmod(0o644)
    insecure = cli("card", "read", "--reader", reader, ok=False)
    assert insecure.stderr.startswith("error KEYS_INSECURE: ")
    unsafe.chmod(0o600)


def test_issue_and_read_with_photo(cli, vpcd_card, tmp_path):
    from card_layout.jpeg_sample import flat_jpeg

    reader, _path, _bridge = vpcd_card
    photo, bad, out = tmp_path / "in.jpg", tmp_path / "bad.jpg", tmp_path / "out.jpg"
    photo.write_bytes(flat_jpeg(102, 126, 66))
    bad.write_bytes(b"GIF89a" + bytes(40))
    refused = cli("card", "issue", "--reader", reader, *ISSUE, "--photo", str(bad), "--yes",
                  ok=False)
    assert refused.returncode == 3 and "VALIDATION_ERROR" in refused.stderr
    issued = json.loads(cli("card", "issue", "--reader", reader, *ISSUE, "--photo", str(photo),
                            "--yes", "--json").stdout)
    assert issued["identity"]["photo_sha256"]
    read = json.loads(cli("card", "read", "--reader", reader, "--photo", str(out),
                          "--json").stdout)
    assert read["verification"]["status"] == "valid"
    assert out.read_bytes() == photo.read_bytes()
