"""CARDSERVICE_READERS through pcscd: a daemon (and the CLI) with a reader selection lists,
watches and connects only to its readers, with two cards present in two virtual readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from cardservice.transport.readers import reader_id
from tests.conftest import wait_card_state
from tests.reliability.daemon import fresh_daemon, served_blank_card

pytestmark = pytest.mark.pcsc


def _events_until(ws, reader: str, type_: str, timeout: float = 10.0) -> list[dict]:
    """Every event received up to and including ``type_`` on ``reader``."""
    seen, deadline = [], time.monotonic() + timeout
    while True:
        seen.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
        if seen[-1]["type"] == type_ and seen[-1].get("reader") == reader:
            return seen


def test_a_daemon_lists_watches_and_reads_only_its_readers(pcscd, tmp_path: Path):
    with served_blank_card(tmp_path, "52503100000000C1", 1) as (mine, reader_a), \
            served_blank_card(tmp_path, "52503100000000C2", 2) as (other, reader_b):
        env = {"CARDSERVICE_READERS": json.dumps([reader_a])}
        with fresh_daemon(tmp_path, env) as daemon, daemon.client() as client:
            assert [r["name"] for r in client.get("/v1/readers").json()] == [reader_a]
            refused = client.get(f"/v1/readers/{reader_id(reader_b)}/card")
            assert refused.status_code == 404, refused.text
            assert refused.json()["error"]["code"] == "READER_NOT_FOUND"
            assert client.get(f"/v1/readers/{reader_id(reader_a)}/card").json()["state"] == "blank"

            ws_url = daemon.url.replace("http://", "ws://") + "/v1/events"
            headers = {"Authorization": f"Bearer {daemon.secret}"}
            with ws_connect(ws_url, additional_headers=headers) as ws:
                hello = json.loads(ws.recv(timeout=5))
                assert {r["reader"] for r in hello["readers"]} == {reader_a}
                # the other reader's card goes out and back first, then ours: only ours is
                # reported, and the other card is never read (no reconcile read of it)
                other.remove()
                assert wait_card_state(reader_b, present=False)
                other.insert()
                assert wait_card_state(reader_b, present=True)
                mine.remove()
                assert wait_card_state(reader_a, present=False)
                mine.insert()
                events = _events_until(ws, reader_a, "card_inserted")
            assert [e["type"] for e in events if e.get("reader") is not None] == [
                "card_removed", "card_inserted"], events
            assert {e["reader"] for e in events if e.get("reader") is not None} == {reader_a}
            log = daemon.log.read_text()
        assert f"readers: only {reader_a} (CARDSERVICE_READERS)" in log, log[-2000:]
        assert mine.card.apdu_count > 0, "the daemon read its own reader's card"
        assert other.card.apdu_count == 0, "the daemon never sent the other card an APDU"


def test_the_cli_sees_only_the_selected_readers(pcscd, tmp_path: Path):
    home = tmp_path / "home"
    base = {**os.environ, "CARDSERVICE_HOME": str(home)}

    def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cardservice", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    assert cli("keys", "init", "--demo", env=base).returncode == 0
    with served_blank_card(tmp_path, "52503100000000C3", 3) as (_a, reader_a), \
            served_blank_card(tmp_path, "52503100000000C4", 4) as (other, reader_b):
        everything = json.loads(cli("readers", "--json", env=base).stdout)
        assert {reader_a, reader_b} <= {r["name"] for r in everything}
        # a shell-style pattern: the reader's name with its first character as ``?``
        env = {**base, "CARDSERVICE_READERS": json.dumps(["?" + reader_a[1:]])}
        shown = cli("readers", "--json", env=env)
        listed = json.loads(shown.stdout)
        assert reader_a in {r["name"] for r in listed}
        assert reader_b not in {r["name"] for r in listed}
        assert "only readers matching CARDSERVICE_READERS: ?" + reader_a[1:] in shown.stderr
        assert "CARDSERVICE_READERS" not in cli("readers", env=base).stderr
        read = cli("card", "read", "--reader", reader_b, "--json", env=env)
        assert read.returncode != 0 and read.stderr.startswith("error READER_NOT_FOUND: "), \
            read.stderr
        assert other.card.apdu_count == 0
        bad = cli("readers", env={**base, "CARDSERVICE_READERS": "reader one"})
        assert bad.returncode == 2 and "CARDSERVICE_READERS must be a JSON list" in bad.stderr
        ok = json.loads(cli("card", "read", "--reader", reader_a, "--json", env=env).stdout)
        assert ok["state"] == "blank"


def test_the_daemon_refuses_a_bad_selection_at_start(tmp_path: Path):
    home = tmp_path / "home"
    env = {**os.environ, "CARDSERVICE_READERS": '["ok", ""]'}
    proc = subprocess.run([sys.executable, "-m", "cardservice", "--home", str(home), "serve",
                           "--port", "0"], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode != 0
    assert "a reader pattern must be a non-empty string" in proc.stderr, proc.stderr
