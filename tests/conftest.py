"""Session-wide fixtures: a running pcscd, and virtual RP1 cards served into vpcd readers.

The four virtual readers and their vpcd ports (the second pair comes from the project's extra
reader config, see scripts/install-system-deps.sh):
35963 "Virtual PCD 00 00", 35964 "Virtual PCD 00 01", 35965 "Virtual PCD B 00 00",
35966 "Virtual PCD B 00 01". Sub-folders add their own fixtures in their own conftest.py files.
"""

from __future__ import annotations

import fcntl
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage
from simulator.pcscd import Pcscd
from simulator.vpcd import VpcdBridge, reader_name_for_port

#: The reader a served card appears in first (vpcd port 35963).
READER = "Virtual PCD 00 00"
#: vpcd ports a fixture may use, in order: the 16 readers scripts/install-system-deps.sh sets up
#: (override with CARDSIM_VPCD_PORTS=35965,35966).
CANDIDATE_PORTS = tuple(int(p) for p in os.environ.get(
    "CARDSIM_VPCD_PORTS", ",".join(str(p) for p in range(35963, 35979))).split(","))


#: The xdist group of every test that uses the machine's pcscd: one worker runs them all, in
#: collection order, as a run without workers does (they share its readers, and some count its
#: connections); the other tests run on the other workers beside them (`make test`).
PCSCD_GROUP = "pcscd"


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "pcscd" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(PCSCD_GROUP))


@pytest.fixture(scope="session")
def pcscd() -> Iterator[Pcscd]:
    with _one_pcscd_worker():
        daemon = Pcscd()
        daemon.ensure()
        yield daemon
        daemon.stop()


@contextmanager
def _one_pcscd_worker() -> Iterator[None]:
    """Under pytest-xdist, fail loudly if a second worker of this run asks for pcscd (the
    grouping above did not hold), instead of letting two workers fight over its readers."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    path = Path(tempfile.gettempdir()) / f"cardservice-pcscd-worker-{run}.lock"
    with path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"tests that use pcscd ran on two pytest workers ({PCSCD_GROUP!r} group "
                        "not kept together: see pytest-xdist and pytest versions in pyproject)")
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def _states(readers: list[str] | None = None) -> dict[str, int]:
    """pcscd's state word per reader (no card I/O, so a mute card cannot block it). Raises
    RuntimeError when pcscd does not answer: a test must not take "no answer" for "no card"."""
    for _attempt in range(5):
        try:
            return _states_once(readers)
        except SystemError:  # pyscard under load: "returned NULL without setting an exception"
            time.sleep(0.05)
    raise RuntimeError("pyscard kept failing to read pcscd's reader states")


def _states_once(readers: list[str] | None) -> dict[str, int]:
    from smartcard import scard

    hr, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise RuntimeError(f"pcscd refused a context: {scard.SCardGetErrorMessage(hr)}")
    try:
        names = readers or scard.SCardListReaders(ctx, [])[1] or []
        if not names:
            return {}
        hr, states = scard.SCardGetStatusChange(
            ctx, 0, [(r, scard.SCARD_STATE_UNAWARE) for r in names])
        if hr != scard.SCARD_S_SUCCESS:
            raise RuntimeError(f"reader states of {names}: {scard.SCardGetErrorMessage(hr)}")
        return {name: state for name, state, _ in states}
    finally:
        scard.SCardReleaseContext(ctx)


def present_readers() -> set[str]:
    from smartcard.scard import SCARD_STATE_PRESENT

    return {name for name, state in _states().items() if state & SCARD_STATE_PRESENT}


def wait_card_state(reader: str, present: bool, timeout: float = 5.0) -> bool:
    """Wait until pcscd reports a card in ``reader`` (or none); False on timeout. If pcscd
    did not answer at the end, raises its RuntimeError rather than say "no card"."""
    from smartcard.scard import SCARD_STATE_PRESENT

    deadline = time.monotonic() + timeout
    failure: RuntimeError | None = None
    while time.monotonic() < deadline:
        try:
            if bool(_states([reader]).get(reader, 0) & SCARD_STATE_PRESENT) == present:
                return True
            failure = None
        except RuntimeError as exc:  # pcscd restarting: ask again until the deadline
            failure = exc
        time.sleep(0.05)
    if failure is not None:
        raise failure
    return False


#: pcsc-lite's PCSCLITE_STATUS_POLL_RATE: its poller asks a vpcd slot for the card this often
PCSCD_POLL_S = 0.4
_TCP_LISTEN = "0A"


def vpcd_connections(port: int) -> int:
    """pcscd's connected (or half-closed) sockets on vpcd ``port``, from the kernel's tables."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] != _TCP_LISTEN:
                count += 1
    return count


def wait_vpcd_released(port: int, timeout: float = 10.0) -> bool:
    """Wait until pcscd has closed its end of the card's vpcd connection on ``port``, then for
    two of its status polls with no card connected; False on timeout. The reader state alone
    is not enough: when a client dies inside a transaction, pcscd resets the card, and a reset
    that fails marks the reader empty while pcscd's poller still counts the card present; a
    card connected before that poller has seen an empty slot is never reported (measured with
    a SIGKILLed `produce`)."""
    deadline = time.monotonic() + timeout
    while vpcd_connections(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    time.sleep(2 * PCSCD_POLL_S)  # nothing to wait on: the poller has no event to watch
    return True


def free_ports() -> list[int]:
    """Candidate vpcd ports whose reader holds no card right now."""
    busy = present_readers()
    return [p for p in CANDIDATE_PORTS if reader_name_for_port(p) not in busy]


def serve_card(card: VirtualCard) -> tuple[VpcdBridge, str]:
    """Serve ``card`` into the first empty virtual reader; return the bridge and reader name."""
    for port in free_ports():
        reader = reader_name_for_port(port)
        bridge = VpcdBridge(card, port=port, reinsert_delay=0.8).start()
        if bridge.wait_connected(5.0) and wait_card_state(reader, present=True, timeout=3.0):
            return bridge, reader
        bridge.stop()
    raise RuntimeError(f"no empty virtual reader on ports {CANDIDATE_PORTS} took the card")


def serve_image_process(image: Path) -> tuple[subprocess.Popen, str]:
    """Run `cardsim serve IMAGE` into the first empty virtual reader (a separate process)."""
    for port in free_ports():
        reader = reader_name_for_port(port)
        proc = subprocess.Popen([sys.executable, "-m", "simulator", "serve", str(image),
                                 "--port", str(port)], stderr=subprocess.DEVNULL)
        if wait_card_state(reader, present=True, timeout=5.0):
            return proc, reader
        proc.terminate()
        proc.wait(5)
    raise RuntimeError(f"no empty virtual reader on ports {CANDIDATE_PORTS} took the card")


@pytest.fixture
def vpcd_card(pcscd: Pcscd, tmp_path: Path) -> Iterator[tuple[str, Path, VpcdBridge]]:
    """A blank card image served into a vpcd reader: yields (reader name, image path, bridge).

    The bridge is the control handle: ``.card`` (VirtualCard, ``.faults``), ``.remove()``,
    ``.insert()``, ``.unmute()``.
    """
    path = tmp_path / "card.json"
    image = CardImage.blank(bytes.fromhex("52503100000000A1"), load_dev_master_keys(), path)
    image.save()
    bridge, reader = serve_card(VirtualCard(path, random.Random(7)))
    try:
        yield reader, path, bridge
    finally:
        bridge.stop()
        wait_card_state(reader, present=False)  # so the next test starts from an empty reader


# The throw-away PostgreSQL cluster and the sqlite|postgresql store fixture (docs/storage.md).
from tests.pg import backend, pg_cluster  # noqa: F401


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory) -> Path:
    """SoftHSM configured for this test session in a temp dir (SOFTHSM2_CONF); tokens come from
    :func:`tests.hsm.init_token`. Fails (never skips) when SoftHSM is not installed."""
    from tests.hsm import configure_softhsm, softhsm_available

    assert softhsm_available(), "softhsm2 is not installed (scripts/install-system-deps.sh)"
    return configure_softhsm(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="session")
def pkcs11_token(softhsm: Path):
    """A fresh token for the session (its PIN in a 0600 file), configured in the environment
    (CARDSERVICE_PKCS11_*) so that data directories whose keys are in it load them."""
    from tests.hsm import init_token, token_env

    config = init_token(softhsm.parent, "cardservice-test")
    # a second token, never logged in by the test process (a wrong PIN must meet a token that
    # is not already logged in); made now because SoftHSM lists tokens once per process
    init_token(softhsm.parent, "cardservice-other")
    os.environ.update(token_env(config))
    return config


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory):
    """A data directory with the demo keys as files (tests/engine overrides it to run every
    engine test with file keys and with keys in a SoftHSM token)."""
    from datetime import timedelta

    from cardservice.pki.keys import DataDir, init_demo
    from tests.clock import START

    home = DataDir(tmp_path_factory.mktemp("home"))
    init_demo(home, now=START - timedelta(days=1), masters=load_dev_master_keys())
    return home


# --- no secret in any log line (issue 11, point 2) -----------------------------------------

#: Every token secret created in this test session (TokenStore.create is wrapped below).
CREATED_SECRETS: set[str] = set()
_SECRET_SHAPE = re.compile(r"cs_[A-Za-z0-9_-]{20,}")


class _SecretGrep(logging.Handler):
    """Checks every log record of the session (DEBUG and up) for a secret created so far."""

    def __init__(self, fixed: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.fixed = fixed
        self.leaks: list[str] = []

    #: The test process's own HTTP and WebSocket clients log the headers they send at DEBUG;
    #: they are the callers, not the service (the daemons' logs are checked in their files).
    CLIENTS = ("websockets.client", "httpx", "httpcore", "urllib3")

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self.CLIENTS):
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not a leak
            return
        text += " " + " ".join(str(v) for v in record.__dict__.values() if isinstance(v, str))
        found = {s for s in _SECRET_SHAPE.findall(text) if s in CREATED_SECRETS}
        found.update(k for k in self.fixed if k in text.lower())
        if found:
            self.leaks.append(f"{record.name}: {text[:200]!r}")


def _leaks_in_files(root: Path, fixed: list[str]) -> list[str]:
    leaks = []
    for path in root.rglob("*.log"):
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            hits = {s for s in _SECRET_SHAPE.findall(line) if s in CREATED_SECRETS}
            if hits or any(k in line.lower() for k in fixed):
                leaks.append(f"{path.name}: {line[:200]!r}")
    return leaks


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log(tmp_path_factory) -> Iterator[None]:
    """Greps every log line of the run, in process and in the daemons' log files under the
    session's temporary directory, for every token secret created and the card master keys."""
    from cardservice.store.tokens import TokenStore

    original = TokenStore.create

    def create(self, *args, **kwargs):
        secret, info = original(self, *args, **kwargs)
        CREATED_SECRETS.add(secret)
        return secret, info

    fixed = [key.hex() for key in load_dev_master_keys().values()]
    grep = _SecretGrep(fixed)
    root = logging.getLogger()
    level = root.level
    root.addHandler(grep)
    root.setLevel(min(level, logging.DEBUG))
    TokenStore.create = create
    try:
        yield
    finally:
        TokenStore.create = original
        root.removeHandler(grep)
        root.setLevel(level)
    leaks = grep.leaks + _leaks_in_files(tmp_path_factory.getbasetemp(), fixed)
    assert not leaks, f"{len(leaks)} log lines hold a secret, e.g. {leaks[:3]}"
