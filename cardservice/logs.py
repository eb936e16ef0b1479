"""Logging set-up for the entry points, the TRAFFIC level for raw APDUs, and APDU redaction."""

from __future__ import annotations

import json
import logging
import re
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


#: Control characters (C0, DEL, C1) and Unicode line/paragraph separators: a request path with
#: ``%0d%0a``, ESC or NUL must not forge log lines or drive a terminal.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: A bearer token (``cs_`` + 43 base64url characters) anywhere, and a ``token=`` query value.
_TOKEN = re.compile(r"cs_[A-Za-z0-9_-]{20,}")
_TOKEN_PARAM = re.compile(r"(?i)((?:^|[?&;\s])(?:access_)?token=)[^&\s\"']*")
REDACTED = "[redacted]"


def escape_text(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\r``, ``\\x1b``, ...)."""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def redact_secrets(text: str) -> str:
    """``text`` with bearer tokens and ``token=`` query values replaced by ``[redacted]``."""
    return _TOKEN.sub(REDACTED, _TOKEN_PARAM.sub(lambda m: m.group(1) + REDACTED, text))


def redact_query(query: str) -> str:
    """A URL query string with the value of every ``token`` parameter redacted."""
    return redact_secrets(query)


class RedactingFilter(logging.Filter):
    """Redacts tokens from every record, whatever logger wrote it (uvicorn logs a WebSocket's
    full request target, query string included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record: logging reports it itself
            return True
        clean = redact_secrets(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class TextFormatter(logging.Formatter):
    """One line per record: the message's control characters escaped (the traceback of an
    exception follows on its own lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.message = escape_text(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("method", "path", "query", "status", "ms", "client", "operation", "reader", "code"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(verbose: int = 0, fmt: str = "text") -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, TRAFFIC)  # -vv: APDU traffic
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
