"""The CLI as a technician runs it, through pcscd and vpcd: `card face` writes the PNG / PDF;
with CARDSERVICE_PRINTER an issue prints both sides, a re-sign only the back; a failed print
exits 6 with PRINT_FAILED after the card was written, and `card print` repeats it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from tests.cups import pdf_page_size, pdf_pages
from tests.face_layouts import EXT_B_NAME, without_fallback_font

pytestmark = pytest.mark.pcsc

ISSUE = ["--name", "王五", "--gender", "male", "--nationality", "维吾尔族",
         "--citizen-number", "110105199001011232", "--household-address", "新疆博乐市红星路1号",
         "--residence", "博乐市团结路2号", "--permit-type", "temporary", "--yes"]


@pytest.fixture
def cli(tmp_path):
    env = {**os.environ, "CARDSERVICE_HOME": str(tmp_path / "home")}
    env.pop("CARDSERVICE_PRINTER", None)

    def run(*args: str, ok: bool = True, **extra: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "cardservice", *args],
                              env={**env, **extra}, capture_output=True, text=True, timeout=120,
                              check=False)
        assert "Traceback" not in proc.stderr, proc.stderr
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    run("keys", "init", "--demo")
    return run


def test_card_face_writes_png_and_pdf(cli, vpcd_card, tmp_path):
    reader, _path, _bridge = vpcd_card
    blank = cli("card", "face", "--reader", reader, "--side", "front",
                "--out", str(tmp_path / "f.png"), ok=False)
    assert blank.returncode == 4 and blank.stderr.startswith("error NOT_PERSONALIZED: ")
    cli("card", "issue", "--reader", reader, *ISSUE)
    cli("card", "face", "--reader", reader, "--side", "front", "--out", str(tmp_path / "f.png"))
    assert Image.open(tmp_path / "f.png").size == (1011, 638)
    cli("card", "face", "--reader", reader, "--side", "both", "--out", str(tmp_path / "b.pdf"))
    assert pdf_pages(tmp_path / "b.pdf") == 2
    bad = cli("card", "face", "--reader", reader, "--side", "back",
              "--out", str(tmp_path / "f.gif"), ok=False)
    assert bad.returncode == 3 and "VALIDATION_ERROR" in bad.stderr



def test_card_face_shows_what_this_site_cannot_print_and_print_refuses_it(cli, vpcd_card,
                                                                          tmp_path):
    reader, _path, _bridge = vpcd_card
    issue = list(ISSUE)
    issue[issue.index("--name") + 1] = EXT_B_NAME
    cli("card", "issue", "--reader", reader, *issue)
    here = cli("card", "face", "--reader", reader, "--side", "front",
               "--out", str(tmp_path / "here.png"))
    assert "warning" not in here.stderr
    without_fallback_font(tmp_path / "home")  # this data directory's face: another layout
    there = cli("card", "face", "--reader", reader, "--side", "both",
                "--out", str(tmp_path / "there.pdf"))
    assert pdf_pages(tmp_path / "there.pdf") == 2
    assert "warning: this site's card face cannot print identity.name (no_glyph)" in there.stderr
    refused = cli("card", "print", "--reader", reader, "--printer", "nowhere", ok=False)
    assert refused.returncode == 3 and refused.stderr.startswith("error VALIDATION_ERROR: ")


def test_issue_and_resign_print_and_a_failed_print_is_repeated(cli, vpcd_card, cups):
    reader, _path, _bridge = vpcd_card
    env = {**cups.env, "CARDSERVICE_PRINTER": cups.queue}
    before = len(cups.pdfs())
    issued = cli("card", "issue", "--reader", reader, "--json", *ISSUE, **env)
    assert json.loads(issued.stdout)["verification"]["status"] == "valid"
    assert "printed the both" in issued.stderr
    assert pdf_pages(cups.wait_pdf(before)) == 2

    cups.reject()
    try:
        moved = cli("card", "resign", "--reader", reader, "--residence", "博乐市幸福路9号",
                    "--yes", "--json", ok=False, **env)
    finally:
        cups.accept()
    assert moved.returncode == 6
    assert json.loads(moved.stdout)["residence"]["sequence"] == 2  # the chip was written
    assert moved.stderr.startswith("error PRINT_FAILED: ")
    assert "cardservice card print --side back" in moved.stderr

    again = cli("card", "print", "--reader", reader, "--side", "back", **env)
    assert "printed the back" in again.stdout
    back = cups.wait_pdf(before + 1)
    assert pdf_pages(back) == 1
    after = json.loads(cli("card", "read", "--reader", reader, "--json").stdout)
    assert after["residence"]["sequence"] == 2  # printing did not write the card
    assert pdf_page_size(back) == pytest.approx((242.6, 153.0), abs=1.0)  # 85.60 x 53.98 mm
