"""Logging set-up for the entry points, the TRAFFIC level for raw APDUs, and APDU redaction."""

from __future__ import annotations

import json
import logging
import sys

from card_layout.files import Ins

#: Below DEBUG: raw APDUs (authentication data blanked).
TRAFFIC = 5
logging.addLevelName(TRAFFIC, "TRAFFIC")

_SECRET_INS = {Ins.EXTERNAL_AUTHENTICATE, Ins.GET_CHALLENGE}


def redact_command(apdu: bytes) -> str:
    """Hex of a command APDU with authentication data blanked."""
    if len(apdu) > 5 and apdu[1] in _SECRET_INS:
        return apdu[:5].hex() + "**" * (len(apdu) - 5)
    return apdu.hex()


def redact_response(apdu: bytes, data: bytes, sw: int) -> str:
    if len(apdu) > 1 and apdu[1] in _SECRET_INS and data:
        return "**" * len(data) + f" {sw:04X}"
    return f"{data.hex()} {sw:04X}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("method", "path", "status", "ms", "client", "operation", "reader", "code"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(verbose: int = 0, fmt: str = "text") -> None:
    level = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}.get(verbose, TRAFFIC)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
