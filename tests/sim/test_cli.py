"""`cardsim new`, `show` and `ctl` (the control socket is served in-process)."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from simulator.card import VirtualCard
from simulator.cli import main
from simulator.control import ControlServer, control_path, execute
from simulator.faults import PowerLost
from simulator.vpcd import VpcdBridge


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_new_with_serial_and_show(tmp_path):
    path = tmp_path / "c.json"
    result = run("new", str(path), "--serial", "0102030405060708")
    assert result.exit_code == 0 and "0102030405060708" in result.output
    shown = run("show", str(path))
    assert shown.exit_code == 0
    assert "serial: 0102030405060708" in shown.output
    assert "identity: open" in shown.output
    assert "EF.CARD 0100: 8/8 bytes" in shown.output
    assert "0000  01 02 03 04 05 06 07 08" in shown.output
    assert "PERSONALIZATION (01): 8 tries left" in shown.output


def test_new_random_serials_differ_and_refuse_overwrite(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert run("new", str(a)).exit_code == 0
    assert run("new", str(b)).exit_code == 0
    assert json.loads(a.read_text())["serial"] != json.loads(b.read_text())["serial"]
    again = run("new", str(a))
    assert again.exit_code == 2 and "exists" in again.output


def test_bad_input_gives_clear_errors(tmp_path):
    bad = run("new", str(tmp_path / "x.json"), "--serial", "12")
    assert bad.exit_code == 2 and "bad serial" in bad.output and "Traceback" not in bad.output
    missing = run("show", str(tmp_path / "none.json"))
    assert missing.exit_code == 2 and "cannot read card image" in missing.output
    ctl = run("ctl", str(tmp_path / "none.json"), "status")
    assert ctl.exit_code == 2 and "no card served" in ctl.output


def _bridge(tmp_path) -> VpcdBridge:
    path = tmp_path / "c.json"
    assert run("new", str(path), "--serial", "0102030405060708").exit_code == 0
    return VpcdBridge(VirtualCard(path, random.Random(1)), port=1)  # never started


def test_control_commands_drive_the_fault_plan(tmp_path):
    bridge = _bridge(tmp_path)
    card = bridge.card
    card.power_on()
    assert execute(bridge, "sw 6A82 B0 2").startswith("ok sw")
    assert card.process(bytes.fromhex("00B0810000")) == bytes.fromhex("6A82")
    assert execute(bridge, "clear").startswith("ok")
    assert execute(bridge, "mute 0").startswith("ok") and card.faults.muted
    assert "muted=False" in execute(bridge, "unmute")
    assert execute(bridge, "cut-in-update 5 2").startswith("ok")
    assert card.faults.update_cut_point() is None  # first of two updates passes
    assert card.faults.update_cut_point() == 5
    assert execute(bridge, "remove").startswith("ok remove present=False")
    assert "present=True" in execute(bridge, "insert")
    assert execute(bridge, "bogus").startswith("error unknown command")
    assert execute(bridge, "cut-after x").startswith("error")
    assert execute(bridge, "cut-after").startswith("error")


def test_ctl_over_the_unix_socket(tmp_path):
    bridge = _bridge(tmp_path)
    server = ControlServer(bridge, control_path(tmp_path / "c.json")).start()
    try:
        assert (control_path(tmp_path / "c.json").stat().st_mode & 0o777) == 0o600
        result = run("ctl", str(tmp_path / "c.json"), "cut-after", "3")
        assert result.exit_code == 0 and result.output.startswith("ok cut-after")
        bridge.card.power_on()
        for _ in range(3):
            bridge.card.process(bytes.fromhex("FFCA000000"))
        assert bridge.card.powered
        with pytest.raises(PowerLost):
            bridge.card.process(bytes.fromhex("FFCA000000"))
        bad = run("ctl", str(tmp_path / "c.json"), "nonsense")
        assert bad.exit_code == 1 and bad.output.startswith("error")
    finally:
        server.close()
    assert not control_path(tmp_path / "c.json").exists()
