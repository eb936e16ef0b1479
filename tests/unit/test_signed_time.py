"""The record's signed time (tag 0x19): encoding, backward compatibility, and how a CRL entry's
revocation date judges records by it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from vectors_gen import NOW, build_pki, p256_key

from card_layout.errors import FieldError
from card_layout.record import ResidenceRecord, decode_record, encode_record
from card_layout.tlv import parse_tlvs
from cardservice.pki.signing import key_id
from cardservice.pki.trust import TrustError, make_crl

PKI = build_pki()
EC_KID = key_id(PKI.keys["ec"].public_key())


def _record(signed_at=None) -> ResidenceRecord:
    return ResidenceRecord.create(sequence=3, permit_type="temporary", basis=None,
                                  sponsor_citizen_number=None, current_residence="示范县1号",
                                  issuing_authority="示范所", issued_on=date(2026, 9, 1),
                                  expires_on=date(2027, 2, 28), signed_at=signed_at)


def test_signed_at_round_trips_in_whole_utc_seconds() -> None:
    moment = datetime(2026, 9, 1, 16, 30, 15, 999999, tzinfo=UTC)
    record = _record(moment.astimezone())
    assert record.signed_at == moment.replace(microsecond=0)
    data = encode_record(record)
    assert data.endswith(bytes([0x19, 4]) + int(record.signed_at.timestamp()).to_bytes(4, "big"))
    assert decode_record(data) == record


def test_a_record_without_signed_at_is_unchanged() -> None:
    old = _record()
    assert [item.tag for item in parse_tlvs(encode_record(old))] == [
        0x11, 0x12, 0x15, 0x16, 0x17, 0x18]  # the format of records written before the tag
    assert decode_record(encode_record(old)) == old


def test_signed_at_must_be_aware_and_in_range() -> None:
    with pytest.raises(FieldError):
        _record(datetime(2026, 9, 1, 12, 0))  # naive
    with pytest.raises(FieldError):
        ResidenceRecord(**{**_record().__dict__, "signed_at": datetime(2200, 1, 1, tzinfo=UTC)})


def test_revocation_date_splits_by_signing_time() -> None:
    revoked_at = NOW + timedelta(days=10)
    crl = make_crl(PKI.root_key, PKI.root_cert, {PKI.certs["ec"].serial_number: revoked_at},
                   now=NOW)
    store = PKI.store(crls=(crl,))
    at = NOW + timedelta(days=20)
    assert store.resolve(EC_KID, at, revoked_at - timedelta(seconds=1)).name
    for signed in (revoked_at, revoked_at + timedelta(days=1)):
        with pytest.raises(TrustError) as info:
            store.resolve(EC_KID, at, signed)
        assert info.value.reason == "authority_revoked"
    with pytest.raises(TrustError) as info:  # no signing time known: revoked, as before
        store.resolve(EC_KID, at)
    assert info.value.reason == "revoked"


def test_crl_of_another_root_revokes_nothing() -> None:
    other = build_pki(root_label="other-root")
    crl = make_crl(p256_key("other-root"), other.root_cert,
                   {PKI.certs["ec"].serial_number: NOW}, now=NOW)
    assert PKI.store(crls=(crl,)).resolve(EC_KID, NOW + timedelta(days=1), NOW).name
