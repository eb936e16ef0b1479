"""verify_card verdicts: every status, the named checks and with_registry()."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from vectors_gen import (
    NOW,
    SERIALS,
    TODAY,
    Card,
    build_pki,
    make_card,
    sample_identity,
    sample_record,
)

from card_layout.files import Fid
from card_layout.frame import encode_frame
from card_layout.identity import encode_identity
from card_layout.record import encode_record
from cardservice.engine.verify import Check, Result, Status, VerificationReport, verify_card
from cardservice.pki.trust import TrustStore, make_authority_certificate

PKI = build_pki()
STORE = PKI.store()
SERIAL = bytes.fromhex(SERIALS["cjk_temporary"])
IDENTITY = sample_identity("cjk_temporary")


def card(seq: int = 1, *, identity_by: str = "ed", record_by: str = "ed", **changes) -> Card:  # type: ignore[no-untyped-def]
    record = sample_record("cjk_temporary", record_by, sequence=seq, **changes)
    return make_card(PKI, SERIAL, IDENTITY, record, identity_by=identity_by, record_by=record_by)


def verify(c: Card, slot_a: bytes | None = None, slot_b: bytes = b"", *,
           store: TrustStore = STORE, today: date = TODAY) -> VerificationReport:
    return verify_card(c.serial, c.id_file, c.slot if slot_a is None else slot_a, slot_b,
                       store, today=today, at=NOW + timedelta(hours=1))


def results(report: VerificationReport) -> dict[str, tuple[str, str]]:
    return {c.check.value: (c.result.value, c.reason) for c in report.checks}


def test_valid_card() -> None:
    c = card()
    report = verify(c)
    assert report.status is Status.VALID
    assert results(report) == {
        "format": ("succeeded", "ok"), "identity_signature": ("succeeded", "ok"),
        "record_signature": ("succeeded", "ok"), "certificate_chain": ("succeeded", "ok"),
        "validity": ("succeeded", "ok"), "revocation": ("not_checked", "not_checked_registry"),
        "rollback": ("not_checked", "not_checked_registry"),
        "chip_authentic": ("not_checked", "no_chip_key"),
        "card_counter": ("not_checked", "no_counter"),
        "sponsor": ("not_checked", "not_checked_registry"),
    }
    assert (report.identity, report.record, report.current_slot) == (IDENTITY, c.record, Fid.RES_A)
    assert report.identity_signature == c.identity_sig
    assert report.record_signature == c.record_sig
    assert report.serial == SERIAL


def test_identity_and_record_by_different_authorities() -> None:
    report = verify(card(identity_by="ec", record_by="ed"))
    assert report.status is Status.VALID
    assert report.identity_signature.key_id != report.record_signature.key_id


@pytest.mark.parametrize("content", [b"", bytes(512), b"\xff" * 512])
def test_blank_card(content: bytes) -> None:
    report = verify_card(SERIAL, content, b"", b"", STORE, today=TODAY, at=NOW)
    assert report.status is Status.BLANK
    assert report.check(Check.FORMAT).reason == "empty"
    assert report.identity is None and report.record is None


def test_blank_wins_over_garbage_slots() -> None:
    report = verify_card(SERIAL, b"", b"garbage", b"junk", STORE, today=TODAY, at=NOW)
    assert report.status is Status.BLANK


def test_unsigned_identity() -> None:
    id_file = encode_frame(b"ID", encode_identity(IDENTITY))
    report = verify_card(SERIAL, id_file, b"", b"", STORE, today=TODAY, at=NOW)
    assert report.status is Status.UNSIGNED
    assert report.identity == IDENTITY
    assert report.check(Check.IDENTITY_SIGNATURE).reason == "unsigned"


def test_personalized_without_record_is_unsigned() -> None:
    report = verify(card(), slot_a=b"")
    assert report.status is Status.UNSIGNED
    assert results(report)["record_signature"] == ("not_checked", "no_record")
    assert results(report)["identity_signature"] == ("succeeded", "ok")


def test_unsigned_record_is_unsigned() -> None:
    c = card()
    report = verify(c, slot_a=encode_frame(b"RS", encode_record(c.record)))
    assert report.status is Status.UNSIGNED


def test_expired_after_expiry_date_only() -> None:
    c = card()
    assert verify(c, today=date(2027, 5, 28)).status is Status.VALID
    report = verify(c, today=date(2027, 5, 29))
    assert report.status is Status.EXPIRED
    assert results(report)["validity"] == ("failed", "expired")


def test_record_issued_in_the_future_is_invalid() -> None:
    report = verify(card(), today=date(2026, 11, 27))
    assert report.status is Status.INVALID
    assert results(report)["validity"] == ("failed", "not_yet_valid")


def test_unknown_key_id() -> None:
    store = TrustStore([PKI.root_cert], [PKI.certs["ec"]])
    report = verify(card(), store=store)
    assert report.status is Status.INVALID
    assert results(report)["certificate_chain"] == ("failed", "unknown_key_id")
    assert results(report)["identity_signature"] == ("failed", "unknown_key_id")


def test_expired_authority_certificate_keeps_signature_verdict() -> None:
    short = make_authority_certificate(PKI.root_key, PKI.root_cert, PKI.keys["ed"].public_key(),
                                       PKI.name("ed"), now=NOW - timedelta(days=40), days=30)
    report = verify(card(), store=TrustStore([PKI.root_cert], [short]))
    assert report.status is Status.INVALID
    assert results(report)["certificate_chain"] == ("failed", "expired")
    assert results(report)["record_signature"] == ("succeeded", "ok")


def test_revoked_authority_certificate() -> None:
    report = verify(card(), store=PKI.store(crls=(PKI.crl("ed"),)))
    assert report.status is Status.INVALID
    assert results(report)["certificate_chain"] == ("failed", "revoked")


def test_issuing_authority_must_match_certificate_name() -> None:
    c = card(issuing_authority=PKI.name("ec"))
    report = verify(c)
    assert report.status is Status.INVALID
    assert results(report)["record_signature"] == ("failed", "authority_name_mismatch")


def test_newest_slot_is_current_and_torn_newest_falls_back() -> None:
    old, new = card(1), card(2)
    report = verify(old, slot_a=old.slot, slot_b=new.slot)
    assert (report.current_slot, report.record.sequence) == (Fid.RES_B, 2)
    torn = new.slot[:40] + bytes(len(new.slot) - 40)
    report = verify(old, slot_a=old.slot, slot_b=torn)
    assert report.status is Status.VALID
    assert (report.current_slot, report.record.sequence) == (Fid.RES_A, 1)
    assert report.slots[1].error.reason == "bad_crc"


def test_both_slots_garbage_is_a_format_failure() -> None:
    report = verify(card(), slot_a=b"XX\x01\x00\x20" + bytes(27), slot_b=b"RS\x01")
    assert report.status is Status.INVALID
    assert results(report)["format"] == ("failed", "bad_magic")
    assert results(report)["record_signature"][0] == "not_checked"


def test_wrong_serial_length() -> None:
    c = card()
    report = verify_card(SERIAL[:4], c.id_file, c.slot, b"", STORE, today=TODAY, at=NOW)
    assert report.status is Status.INVALID
    assert results(report)["format"] == ("failed", "bad_serial")


@pytest.mark.parametrize(
    ("revoked", "last_sequence", "status", "revocation", "rollback"),
    [
        (None, None, Status.VALID, "not_checked", "not_checked"),
        (False, 3, Status.VALID, "succeeded", "succeeded"),
        (False, 2, Status.VALID, "succeeded", "succeeded"),
        (True, 3, Status.REVOKED, "failed", "succeeded"),
        (False, 4, Status.INVALID, "succeeded", "failed"),
        (True, 4, Status.INVALID, "failed", "failed"),
    ],
)
def test_with_registry(revoked: bool | None, last_sequence: int | None, status: Status,
                       revocation: str, rollback: str) -> None:
    report = verify(card(3)).with_registry(revoked=revoked, last_sequence=last_sequence)
    assert report.status is status
    assert report.check(Check.REVOCATION).result.value == revocation
    assert report.check(Check.ROLLBACK).result.value == rollback
    if rollback == "failed":
        assert report.check(Check.ROLLBACK).reason == "sequence_below_registry"
    assert [c.check for c in report.checks] == list(Check)


def test_revoked_wins_over_expired() -> None:
    report = verify(card(), today=date(2030, 1, 1))
    assert report.status is Status.EXPIRED
    assert report.with_registry(revoked=True, last_sequence=None).status is Status.REVOKED


def test_registry_on_blank_card_keeps_blank() -> None:
    report = verify_card(SERIAL, b"", b"", b"", STORE, today=TODAY, at=NOW)
    updated = report.with_registry(revoked=False, last_sequence=1)
    assert updated.status is Status.BLANK
    assert updated.check(Check.ROLLBACK).reason == "no_record"


def test_report_values_are_lower_case_strings() -> None:
    report = verify(card())
    assert report.status.value == "valid"
    assert {r.value for r in Result} == {"succeeded", "failed", "not_checked", "warning"}
    assert {s.value for s in Status} == {"valid", "invalid", "expired", "revoked", "blank",
                                         "unsigned", "revocation_stale"}


def test_unexpected_error_still_gives_a_verdict() -> None:
    c = card()
    report = verify_card(c.serial, c.id_file, c.slot, b"", object(),  # type: ignore[arg-type]
                         today=TODAY, at=NOW)
    assert report.status is Status.INVALID
    assert results(report)["format"] == ("failed", "internal_error")
    assert [r.check for r in report.checks] == list(Check)
