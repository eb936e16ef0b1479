"""PC/SC result codes become typed errors with stable codes (negative hresults included)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cardservice import errors
from cardservice.transport.pcsc import _check, handle_is_dead


@pytest.mark.parametrize("hresult,cls,code", [
    (0x8010001D, errors.PcscUnavailableError, "PCSC_UNAVAILABLE"),
    (0x8010001E, errors.PcscUnavailableError, "PCSC_UNAVAILABLE"),
    (0x80100013, errors.PcscUnavailableError, "PCSC_UNAVAILABLE"),
    (0x80100069, errors.CardRemovedError, "CARD_REMOVED"),
    (0x80100068, errors.CardResetError, "CARD_RESET"),
    (0x8010000B, errors.ReaderBusyError, "READER_BUSY"),
    (0x8010000A, errors.CardTimeoutError, "CARD_TIMEOUT"),
    (0x80100066, errors.CardTimeoutError, "CARD_TIMEOUT"),
    (0x8010000C, errors.NoCardError, "NO_CARD"),
    (0x8010002E, errors.NoReaderError, "NO_READER"),
    (0x80100009, errors.ReaderNotFoundError, "READER_NOT_FOUND"),
    (0x80100017, errors.CardRemovedError, "CARD_REMOVED"),
    (0x80100099, errors.TransportError, "TRANSPORT_ERROR"),
])
def test_result_codes_map_to_typed_errors(hresult: int, cls, code: str):
    for value in (hresult, hresult - (1 << 32)):  # pyscard may hand back a negative int
        with pytest.raises(cls) as exc:
            _check(value, "transmit")
        assert exc.value.code == code
        assert f"0x{hresult:08X}" in exc.value.message


def test_success_is_silent():
    assert _check(0, "transmit") is None


@pytest.mark.parametrize("hresult", [0x80100003, 0x80100017, 0x80100069, 0x80100068, 0x80100067,
                                     0x8010001D, 0x8010001E, 0x80100016, 0x8010000C])
def test_dead_handle_results_drop_the_connection(hresult: int):
    with pytest.raises(errors.CardServiceError) as exc:
        _check(hresult, "begin transaction")
    assert handle_is_dead(exc.value)


def test_busy_is_not_a_dead_handle():
    with pytest.raises(errors.CardServiceError) as exc:
        _check(0x8010000B, "begin transaction")
    assert not handle_is_dead(exc.value)


def test_the_code_table_is_pure():
    """pcsc_codes holds the table without pyscard (transport/pcsc.py stays its only importer)
    and gives the same typed errors as the driver's check."""
    script = ("import sys; from cardservice.transport import pcsc_codes as c; "
              "e = c.error_for(c.code_of(0x80100069 - (1 << 32)), 'transmit'); "
              "assert e.code == 'CARD_REMOVED' and c.handle_is_dead(e), e; "
              "assert 'smartcard' not in sys.modules")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
