"""Run the daemon on uvicorn: loopback TCP (``--allow-remote`` for anything else) or a Unix
socket that only its owner can reach (mode 0600 in a folder of mode 0700)."""

from __future__ import annotations

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
    private_folder(path.parent)
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise errors.ValidationError("uds", f"{path} exists and is not a socket", "exists")
        path.unlink()  # a stale socket of an earlier run
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def serve(settings: Settings) -> None:
    app = create_app(settings)
    limits = ConnectionLimits(settings.max_connections, settings.header_timeout,
                              settings.body_timeout)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, server_header=False, proxy_headers=False,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                            http=guarded_protocol(limits),
                            ws_max_size=settings.max_body_bytes)
    server = uvicorn.Server(config)
    if settings.uds is None:
        logger.info("listening on http://%s:%d", settings.host, settings.port)
        server.run()
        return
    sock = bind_unix_socket(settings.uds)
    logger.info("listening on unix socket %s", settings.uds)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        settings.uds.unlink(missing_ok=True)
