"""An interrupted `cardservice produce` (a real process, pcscd, a `cardsim serve --feeder` stack
at a real card's speed) and its resumed run: stopped by SIGINT or SIGTERM mid-run, or killed with
SIGKILL in the middle of a card write. The resumed run finishes the rest, and then every certified
application is produced on exactly one card, no card is linked twice or left personalized
without its application, no write stays pending, and the registry agrees with the cards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from card_layout.citizen import check_digit
from card_layout.files import Fid
from card_layout.idfile import decode_identity_file
from cardservice.engine.service import Service
from cardservice.pki.keys import DataDir, init_demo
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardStatus
from cardservice.workflow.model import Application, Kind, Residence, State
from cardservice.workflow.service import Actor
from cardservice.workflow.wiring import open_applications
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.vpcd import reader_name_for_port
from tests.conftest import free_ports, vpcd_connections, wait_card_state, wait_vpcd_released
from tests.reliability.daemon import wait_until

pytestmark = pytest.mark.pcsc

APPLICATIONS = 4
CARDS = APPLICATIONS + 2  # a spoiled or left-over card must not stop the run
#: ``python -m cardservice`` with Python's own SIGINT handler (KeyboardInterrupt) in place
_WITH_SIGINT = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "runpy.run_module('cardservice', run_name='__main__', alter_sys=True)")
CLERK, COUNTY = Actor("clerk-a", "local"), Actor("county-1", "local")


@dataclass
class Line:
    """A data directory with certified applications and a feeder of blank cards."""

    home: Path
    stack: Path
    reader: str
    port: int
    env: dict[str, str]
    ids: list[str]
    feeder: subprocess.Popen | None = None
    audit: AuditLog | None = None

    def start_feeder(self, timing: str) -> None:
        log = self.stack.parent / "feeder.log"
        with log.open("a") as err:
            self.feeder = subprocess.Popen(
                [sys.executable, "-m", "simulator", "serve", "--feeder", str(self.stack),
                 "--count", str(CARDS), "--seed", "5", "--port", str(self.port),
                 "--timing", timing], stderr=err)
        fed = wait_card_state(self.reader, present=True, timeout=30.0)
        assert fed, (f"no card was fed; feeder exit {self.feeder.poll()}, pcscd connections "
                     f"{vpcd_connections(self.port)}:\n{log.read_text()}")

    def stop_feeder(self) -> None:
        """Stop the feeder and wait until pcscd has let its card go: its end of the connection
        closed and its poller past an empty slot (conftest.wait_vpcd_released), and the reader
        shown empty. A feeder started sooner could take the same reader before pcscd's next
        poll: pcscd would take the new card for the old one (still powered, marked mute) or,
        after a failed reset of a killed run's card, never report the new card at all."""
        if self.feeder is not None and self.feeder.poll() is None:
            self.feeder.terminate()
            self.feeder.wait(10)
        self.feeder = None
        assert wait_vpcd_released(self.port), "pcscd kept the feeder's connection open"
        assert wait_card_state(self.reader, present=False, timeout=10.0), "the card stayed in"

    def produce(self, *readers: str) -> subprocess.Popen:
        # Ctrl-C as at a terminal: a test session started in the background (``cmd &``) has
        # SIGINT ignored, and a child inheriting that would never see the interrupt
        args = [sys.executable, "-c", _WITH_SIGINT, "produce", "--card-wait", "4", "--json"]
        for reader in readers or (self.reader,):
            args += ["--readers", reader]
        return subprocess.Popen(args, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def produce_done(self, *readers: str) -> dict:
        proc = self.produce(*readers)
        out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert proc.returncode == 0, err
        return json.loads(out)

    def service(self):
        return open_applications(Service.open(self.home))


def _assert_shown_unsettled(line: Line, app_id: str, serial: str) -> None:
    """A held application says which card must be read (`application show`, text and JSON)."""
    def show(*extra: str) -> str:
        return subprocess.run([sys.executable, "-m", "cardservice", "application", "show",
                               app_id, *extra], env=line.env, capture_output=True, text=True,
                              check=True, timeout=60).stdout

    assert json.loads(show("--json"))["unsettled_write"]["card_serial"] == serial
    assert f"waiting for a read of card {serial}" in show()


def _citizen(n: int) -> str:
    body = f"110105199001{n + 1:02d}123"  # men born in January 1990
    return body + check_digit(body)


@pytest.fixture
def line(pcscd, tmp_path: Path) -> Iterator[Line]:
    home = tmp_path / "home"
    init_demo(DataDir(home), now=datetime.now(UTC), masters=load_dev_master_keys())
    env = {**os.environ, "CARDSERVICE_HOME": str(home)}
    env.pop("CARDSERVICE_DATABASE_URL", None)
    svc = open_applications(Service.open(home))
    ids = []
    for n in range(APPLICATIONS):
        identity = {"name": f"持证人{n}", "gender": "male", "nationality": "01",
                    "citizen_number": _citizen(n), "household_address": "新疆博乐市红星路1号"}
        draft = Application(id="", kind=Kind.FIRST_ISSUE, identity=identity,
                            residence=Residence("博乐市团结路2号", "temporary"), site="",
                            submitted_at=svc.clock(), submitted_by="", due_on=svc.clock().date())
        app = svc.submit(draft, CLERK)
        svc.decide(app.id, "audit", True, None, CLERK)
        svc.decide(app.id, "certify", True, None, COUNTY)
        ids.append(app.id)
    port = free_ports()[-1]
    made = Line(home, tmp_path / "stack", reader_name_for_port(port), port, env, ids)
    try:
        yield made
    finally:
        made.stop_feeder()
        if made.audit is not None:
            made.audit.close()


def _pending_write(line: Line) -> bool:
    if line.audit is None:  # one reader of the audit file for all the polling
        line.audit = AuditLog(line.home / "audit.db")
    return bool(line.audit.pending())


def _assert_settled(line: Line) -> None:
    """Every application produced on its own card; the registry, the audit log and the cards
    of the stack agree."""
    svc = line.service()
    apps = [svc.get(i) for i in line.ids]
    assert [a.status for a in apps] == [State.PRODUCED] * APPLICATIONS
    serials = [a.card_serial for a in apps]
    assert None not in serials and len(set(serials)) == APPLICATIONS  # one card each
    for app in apps:
        row = svc.registry.get(app.card_serial)
        assert (row.status, row.citizen_number) == (CardStatus.PRODUCED, app.citizen_number)
        assert svc.store.by_card(app.card_serial).id == app.id
    assert svc.registry.count() == APPLICATIONS  # no card registered without its application
    assert svc.audit.pending() == []
    assert svc.audit.verify().ok
    personalized = {}
    for path in sorted(line.stack.glob("feeder-*.json")):
        image = CardImage.load(path)
        if image.locked:
            identity, _ = decode_identity_file(image.files[Fid.ID].data)
            personalized[image.serial.hex()] = identity.citizen_number
    # every personalized card of the stack is an application's card, and holds its citizen
    assert personalized == {a.card_serial: a.citizen_number for a in apps}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_stopped_mid_run_then_resumed(line: Line, sig: signal.Signals) -> None:
    """Stopped while a card is being written: that card is finished and linked, the run says
    ``stopped``, and running again produces the rest."""
    line.start_feeder("iso-9600")
    proc = line.produce()
    wait_until(lambda: _pending_write(line), 60, "a card write to start", 0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    first = json.loads(out)
    assert (first["state"], first["failed"], proc.returncode) == ("stopped", 0, 0), (first, err)
    assert 1 <= first["done"] < APPLICATIONS  # the card in hand was finished
    assert not _pending_write(line)
    line.stop_feeder()
    line.start_feeder("instant")
    second = line.produce_done()
    assert (second["state"], second["done"], second["failed"]) == (
        "finished", APPLICATIONS - first["done"], 0)
    _assert_settled(line)


def _locked_while_pending(line: Line) -> bool:
    return (any(CardImage.load(p).locked for p in line.stack.glob("feeder-*.json"))
            and _pending_write(line))


@pytest.mark.parametrize("moment", ["writing", "locked"])
def test_killed_mid_write_then_the_next_run_settles_it(line: Line, moment: str) -> None:
    """SIGKILL while a card is written (``writing``: as its first files are written;
    ``locked``: after its identity was locked, before the write was confirmed): the write's
    intent stays pending. The next run reads the card it finds (settling the write: a card that
    holds it is linked, one that does not is used again); a card already taken out of the
    reader holds its application until the card is read; the rest is produced once."""
    line.start_feeder("iso-9600")
    proc = line.produce()
    ready = _pending_write if moment == "writing" else _locked_while_pending
    wait_until(lambda: ready(line), 60, f"a card write ({moment})", 0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    if moment == "writing":
        assert _pending_write(line), "the killed write left its intent pending"
    line.stop_feeder()
    line.start_feeder("instant")
    resumed = line.produce_done()
    assert (resumed["state"], resumed["failed"], resumed["left"]) == ("finished", 0, 0)
    for held in resumed["held"]:  # its card left the reader: read it to settle it
        _assert_shown_unsettled(line, held["application_id"], held["card_serial"])
        image = next(p for p in line.stack.glob("feeder-*.json")
                     if CardImage.load(p).serial.hex() == held["card_serial"])
        port = next(p for p in free_ports() if p != line.port)
        card = subprocess.Popen([sys.executable, "-m", "simulator", "serve", str(image),
                                 "--port", str(port)], stderr=subprocess.DEVNULL)
        try:
            assert wait_card_state(reader_name_for_port(port), present=True, timeout=10.0)
            again = line.produce_done(line.reader, reader_name_for_port(port))
        finally:
            card.terminate()
            card.wait(10)
        assert again["state"] == "finished" and again["failed"] == 0
    _assert_settled(line)
