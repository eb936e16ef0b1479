"""Raw APDUs are logged only at the TRAFFIC level, with authentication data blanked."""

from __future__ import annotations

import json
import logging

from cardservice.logs import TRAFFIC, JsonFormatter, redact_command, redact_response


def test_external_authenticate_cryptogram_is_blanked():
    apdu = bytes.fromhex("0082000210") + bytes(range(16))
    shown = redact_command(apdu)
    assert shown == "0082000210" + "**" * 16
    assert bytes(range(16)).hex() not in shown


def test_challenge_answer_is_blanked_but_status_kept():
    assert redact_response(bytes.fromhex("0084000008"), bytes(8), 0x9000) == "**" * 8 + " 9000"


def test_other_apdus_are_shown():
    apdu = bytes.fromhex("00a4040006f05250310001")
    assert redact_command(apdu) == apdu.hex()
    assert redact_response(apdu, b"\x01\x02", 0x6A82) == "0102 6A82"


def test_traffic_is_below_debug():
    assert TRAFFIC < logging.DEBUG
    assert logging.getLevelName(TRAFFIC) == "TRAFFIC"


def test_json_lines_carry_request_fields():
    record = logging.LogRecord("cardservice.api", logging.INFO, __file__, 1, "GET /v1/health",
                               None, None)
    record.status, record.ms = 200, 0.4
    line = json.loads(JsonFormatter().format(record))
    assert (line["msg"], line["status"], line["ms"], line["level"]) == (
        "GET /v1/health", 200, 0.4, "info")


def test_text_log_escapes_control_characters_of_untrusted_text():
    from cardservice.logs import TextFormatter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s 404", ("/a\r\nFAKE\x1b[2J\x00",),
                               None)
    line = TextFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO GET /a\\r\\nFAKE\\x1b[2J\\x00 404"
    assert "\n" not in line and "\x1b" not in line


def test_tokens_are_redacted_wherever_they_appear():
    from cardservice.logs import RedactingFilter, redact_query

    secret = "cs_" + "A1b2" * 11
    assert redact_query(f"a=1&token={secret}&b=2") == "a=1&token=[redacted]&b=2"
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1,
                               '%s - "WebSocket %s" [accepted]',
                               ("127.0.0.1:5", f"/v1/events?token={secret}"), None)
    RedactingFilter().filter(record)
    assert secret not in record.getMessage()
    assert "token=[redacted]" in record.getMessage()
