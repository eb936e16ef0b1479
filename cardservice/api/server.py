"""Run the daemon on uvicorn: loopback TCP (``--allow-remote`` for anything else) or a Unix
socket that only its owner can reach (mode 0600 in a folder of mode 0700).

The socket's path is refused (``VALIDATION_ERROR``, field ``uds``) when its folder is open to
other users or theirs (``not_private``), when something else than a socket is there, a symlink
included (``exists``), when a server answers on the socket there (``in_use``), or when the path
is too long for a Unix socket (``too_long``). A socket file nobody answers on is a stale one of
an earlier run and is replaced. The daemon removes its socket file when it stops (a file put in
its place by someone else is left alone)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import stat
from pathlib import Path

import uvicorn

from cardservice import errors
from cardservice.api import create_app
from cardservice.api.limits import ConnectionLimits, guarded_protocol
from cardservice.config import Settings

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_S = 5
#: how long a server on an existing socket file has to accept before the file counts as stale
PROBE_TIMEOUT_S = 1.0
#: the longest path a Unix socket address holds (sun_path, with its terminating NUL)
MAX_SOCKET_PATH = 107


def private_folder(folder: Path) -> None:
    """Create ``folder`` with mode 0700, or refuse one that other users can enter."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise errors.ValidationError("uds", f"{folder} belongs to another user", "not_private")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise errors.ValidationError(
            "uds", f"{folder} is open to other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            "use a private folder (mode 0700)", "not_private")


def bind_unix_socket(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``: owner-only (0600) in a private folder."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise errors.ValidationError(
            "uds", f"{path} is longer than {MAX_SOCKET_PATH} bytes, too long for a Unix socket",
            "too_long")
    private_folder(path.parent)
    # one daemon at a time from the probe to listen(): two starting together would otherwise
    # both find a stale file, and the second would unlink the first's new socket
    lock = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                   0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _bind(path)
    finally:
        os.close(lock)


def _bind(path: Path) -> socket.socket:
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise errors.ValidationError("uds", f"{path} exists and is not a socket", "exists")
        if _answers(path):
            raise errors.ValidationError(
                "uds", f"{path} is in use: a server answers on it (another daemon?)", "in_use")
        path.unlink()  # a stale socket of an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _answers(path: Path) -> bool:
    """Whether a server accepts connections on the socket file ``path``: a file left by a server
    that is gone refuses them. No answer in time (a full backlog) counts as a server there."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT_S)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True
    finally:
        probe.close()
    return True


def file_identity(path: Path) -> tuple[int, int]:
    """(device, inode) of the file at ``path`` itself (not a symlink's target)."""
    info = path.lstat()
    return info.st_dev, info.st_ino


def remove_socket_file(path: Path, identity: tuple[int, int]) -> None:
    """Delete ``path`` if it is still the socket file ``identity`` (:func:`file_identity`), not
    a file put in its place since."""
    with contextlib.suppress(FileNotFoundError):
        if file_identity(path) == identity:
            path.unlink()


class _UnixSocketServer(uvicorn.Server):
    """Removes its socket file first thing when it shuts down: while it still listens the file
    is surely its own (a second daemon is refused, ``in_use``), and uvicorn re-raises the
    signal that stopped it after the shutdown (SIGTERM then ends the process before any
    ``finally`` of the caller runs)."""

    def __init__(self, config: uvicorn.Config, path: Path, identity: tuple[int, int]) -> None:
        super().__init__(config)
        self._path, self._identity = path, identity

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        remove_socket_file(self._path, self._identity)
        await super().shutdown(sockets=sockets)


def serve(settings: Settings) -> None:
    app = create_app(settings)
    limits = ConnectionLimits(settings.max_connections, settings.header_timeout,
                              settings.body_timeout)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, server_header=False, proxy_headers=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                            http=guarded_protocol(limits),
                            ws_max_size=settings.max_body_bytes)
    if settings.uds is None:
        logger.info("listening on http://%s:%d", settings.host, settings.port)
        uvicorn.Server(config).run()
        return
    sock = bind_unix_socket(settings.uds)
    identity = file_identity(settings.uds)
    logger.info("listening on unix socket %s", settings.uds)
    try:
        _UnixSocketServer(config, settings.uds, identity).run(sockets=[sock])
    finally:  # a start-up that failed: not shut down, the file is still there
        remove_socket_file(settings.uds, identity)
        sock.close()
