"""The daemon's Unix-socket mode (``cardservice serve --uds PATH``, api/server.py): a socket only
its owner can reach (0600 in a 0700 folder); a folder open to others, anything else than a socket
at the path (a symlink included) and a socket a server still answers on are refused and left as
they were; a stale socket is replaced; the file goes away when the daemon stops."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cardservice import errors
from cardservice.api.server import (
    MAX_SOCKET_PATH,
    bind_unix_socket,
    file_identity,
    remove_socket_file,
)
from simulator.pcscd import pcscd_answers  # the same probe: something accepts on the socket


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder for the socket that does not exist yet, under a short private temp dir (a Unix
    socket's path is limited to 107 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="uds-"))
    yield root / "run"
    shutil.rmtree(root, ignore_errors=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def refused(path: Path, reason: str) -> errors.ValidationError:
    with pytest.raises(errors.ValidationError) as caught:
        bind_unix_socket(path)
    assert caught.value.code == "VALIDATION_ERROR"
    assert (caught.value.field, caught.value.reason) == ("uds", reason)
    return caught.value


def stale_socket(path: Path) -> None:
    """A socket file nobody listens on, as a daemon killed with SIGKILL leaves behind."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


def test_the_socket_is_owner_only_in_a_folder_made_private(folder):
    path = folder / "api.sock"
    umask = os.umask(0o022)
    try:
        sock = bind_unix_socket(path)
        assert os.umask(0o022) == 0o022  # the process's umask is given back
    finally:
        os.umask(umask)
    with sock:
        assert mode(folder) == 0o700 and folder.stat().st_uid == os.getuid()
        assert stat.S_ISSOCK(path.lstat().st_mode) and mode(path) == 0o600
        assert pcscd_answers(path)  # listening


def test_an_existing_private_folder_is_used_as_it_is(folder):
    folder.mkdir(mode=0o700)
    (folder / "other").write_text("kept")
    with bind_unix_socket(folder / "api.sock"):
        assert mode(folder) == 0o700 and (folder / "other").read_text() == "kept"


@pytest.mark.parametrize("open_mode", [0o755, 0o750, 0o711, 0o703])
def test_a_folder_open_to_other_users_is_refused(folder, open_mode):
    folder.mkdir()
    folder.chmod(open_mode)
    error = refused(folder / "api.sock", "not_private")
    assert f"mode {open_mode:04o}" in error.message and "0700" in error.message
    assert mode(folder) == open_mode and list(folder.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_refused(folder):
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)  # nobody
    assert "belongs to another user" in refused(folder / "api.sock", "not_private").message
    assert list(folder.iterdir()) == []


def test_a_regular_file_at_the_path_is_refused_and_left_untouched(folder):
    folder.mkdir(mode=0o700)
    path = folder / "api.sock"
    path.write_bytes(b"not a socket")
    path.chmod(0o640)
    before = file_identity(path)
    assert "is not a socket" in refused(path, "exists").message
    assert path.read_bytes() == b"not a socket" and mode(path) == 0o640
    assert file_identity(path) == before


def test_a_folder_at_the_path_is_refused(folder):
    (folder / "api.sock").mkdir(parents=True)
    folder.chmod(0o700)
    refused(folder / "api.sock", "exists")
    assert (folder / "api.sock").is_dir()


@pytest.mark.parametrize("target", ["file", "stale socket", "nothing"])
def test_a_symlink_at_the_path_is_refused_and_left_untouched(folder, target):
    folder.mkdir(mode=0o700)
    path, aim = folder / "api.sock", folder / "aim"
    if target == "file":
        aim.write_bytes(b"kept")
    elif target == "stale socket":
        stale_socket(aim)
    path.symlink_to(aim)
    refused(path, "exists")
    assert path.is_symlink() and os.readlink(path) == str(aim)
    if target == "file":
        assert aim.read_bytes() == b"kept"
    elif target == "stale socket":
        assert stat.S_ISSOCK(aim.lstat().st_mode)  # not replaced through the link
    else:
        assert not aim.exists()


def test_a_stale_socket_is_replaced(folder):
    folder.mkdir(mode=0o700)
    path = folder / "api.sock"
    stale_socket(path)
    path.chmod(0o666)
    assert not pcscd_answers(path)
    with bind_unix_socket(path):
        assert stat.S_ISSOCK(path.lstat().st_mode) and mode(path) == 0o600
        assert pcscd_answers(path)


def test_a_socket_a_server_answers_on_is_not_taken_over(folder):
    folder.mkdir(mode=0o700)
    path = folder / "api.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as running:
        running.bind(str(path))
        running.listen(1)
        before = file_identity(path)
        assert "in use" in refused(path, "in_use").message
        assert file_identity(path) == before
        running.settimeout(2)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(path))
            running.accept()[0].close()  # the first server still gets its clients


def test_a_path_too_long_for_a_unix_socket_is_refused_before_anything_is_made(folder):
    path = folder / ("s" * (MAX_SOCKET_PATH - len(os.fsencode(folder))))
    assert len(os.fsencode(path)) == MAX_SOCKET_PATH + 1
    refused(path, "too_long")
    assert not folder.exists()


def test_the_socket_file_is_removed_only_while_it_is_this_servers(folder):
    folder.mkdir(mode=0o700)
    path = folder / "api.sock"
    with bind_unix_socket(path):
        ours = file_identity(path)
        stale_socket(folder / "other.sock")
        os.replace(folder / "other.sock", path)  # someone put another file in its place
        remove_socket_file(path, ours)
        assert stat.S_ISSOCK(path.lstat().st_mode)  # left alone
    path.unlink()
    with bind_unix_socket(path):
        remove_socket_file(path, file_identity(path))
        assert not path.exists()
    remove_socket_file(path, ours)  # nothing there: nothing to do


# --- the real daemon ---------------------------------------------------------------------


def test_the_daemon_serves_the_api_on_the_socket_and_removes_it_when_stopped(folder):
    """``cardservice serve --uds`` as its own process (uvicorn); PC/SC is pointed at a socket
    where no pcscd is, so the daemon never touches a reader of the machine (health: degraded)."""
    home, path = folder.parent / "home", folder / "api.sock"
    env = {k: v for k, v in os.environ.items()
           if k not in ("CARDSERVICE_DATABASE_URL", "CARDSERVICE_SITE_ID")}
    env.update(PCSCLITE_CSOCK_NAME=str(folder.parent / "no-pcscd.comm"),
               CARDSERVICE_READERS='["no reader (unix socket test)"]')
    log = folder.parent / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-c", "from cardservice.cli.main import main; main()",
             "--home", str(home), "serve", "--uds", str(path)],
            stdout=subprocess.DEVNULL, stderr=out, env=env, start_new_session=True)
    try:
        client = httpx.Client(transport=httpx.HTTPTransport(uds=str(path)),
                              base_url="http://localhost", timeout=5)
        deadline = time.monotonic() + 30
        while not path.exists() or not pcscd_answers(path):
            assert daemon.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "the daemon did not listen on its socket"
            time.sleep(0.1)
        assert mode(folder) == 0o700 and mode(path) == 0o600
        health = client.get("/v1/health")
        assert health.status_code == 200, health.text
        assert health.json()["pcsc_available"] is False
        assert health.json()["database"]["available"] is True
        assert client.get("/v1/readers").status_code == 401  # the API's own rules still hold
        refused(path, "in_use")  # a second daemon on the same path would be refused
        client.close()
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)  # as systemd stops it
        try:
            daemon.wait(15)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(5)
    assert not path.exists(), log.read_text()[-2000:]


def test_two_daemons_starting_together_take_turns(folder, monkeypatch):
    """From the probe of an existing file to listen() one daemon at a time (a lock file next to
    the socket): else two could both find a stale file, and the second unlink the first's new
    socket. While another start holds the lock, a start waits; then it finds a live socket."""
    import fcntl
    import threading

    from cardservice.api import server

    folder.mkdir(mode=0o700)
    path = folder / "api.sock"
    stale_socket(path)
    entered = threading.Event()
    real_bind = server._bind

    def observed(p: Path) -> socket.socket:
        entered.set()
        return real_bind(p)

    monkeypatch.setattr(server, "_bind", observed)
    lock = os.open(path.with_name("api.sock.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another daemon starting
    outcome: list[object] = []

    def start() -> None:
        try:
            outcome.append(bind_unix_socket(path))
        except errors.ValidationError as exc:
            outcome.append(exc.reason)

    starter = threading.Thread(target=start)
    starter.start()
    try:
        assert not entered.wait(0.3)  # it waits for the lock
        first = real_bind(path)  # the other daemon replaces the stale file and listens
    finally:
        os.close(lock)  # releases the lock
    starter.join(5)
    with first:
        assert entered.is_set() and outcome == ["in_use"]  # it found the live socket
        assert pcscd_answers(path)
