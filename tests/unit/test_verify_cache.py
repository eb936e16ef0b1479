"""verify_card keeps the signature verdicts of a card's exact bytes (with the decoded content):
a read of the same bytes gives exactly the verdicts of a first read, and anything that changes
a verdict (other bytes, another serial, another authority key or name, a revoked authority, the
time) is still seen."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from vectors_gen import NOW, SERIALS, TODAY, build_pki, make_card, sample_identity, sample_record

from card_layout.slots import encode_slot
from cardservice.engine import verify as verify_module
from cardservice.engine.verify import Check, Result, Status, VerificationReport, verify_card
from cardservice.pki.trust import TrustStore, make_authority_certificate

PKI = build_pki()
SERIAL = bytes.fromhex(SERIALS["cjk_temporary"])
CARD = make_card(PKI, SERIAL, sample_identity("cjk_temporary"),
                 sample_record("cjk_temporary", "ed", sequence=1))
AT = NOW + timedelta(hours=1)


def verify(serial: bytes = SERIAL, slot: bytes = CARD.slot, *, store: TrustStore | None = None,
           at=AT) -> VerificationReport:  # type: ignore[no-untyped-def]
    return verify_card(serial, CARD.id_file, slot, b"", store or PKI.store(), today=TODAY, at=at)


def verdicts() -> dict:  # type: ignore[type-arg]
    return verify_module._parse(CARD.id_file, CARD.slot, b"").verdicts


def reasons(report: VerificationReport) -> dict[Check, tuple[Result, str]]:
    return {c.check: (c.result, c.reason) for c in report.checks}


def test_a_second_read_gives_the_same_report_from_the_kept_verdicts() -> None:
    store = PKI.store()
    first = verify(store=store)
    assert first.status is Status.VALID
    assert len(verdicts()) == 1
    again = verify(store=store)
    assert again == first
    assert len(verdicts()) == 1


def test_a_copy_under_another_serial_is_checked_in_full_and_never_kept() -> None:
    verify()
    kept = dict(verdicts())
    other = bytes.fromhex(SERIALS["supplementary_plane"])
    for _ in range(2):
        copy = verify(other)
        assert copy.status is Status.INVALID
        assert reasons(copy)[Check.IDENTITY_SIGNATURE] == (Result.FAILED, "bad_signature")
        assert reasons(copy)[Check.RECORD_SIGNATURE] == (Result.FAILED, "bad_signature")
    assert verdicts() == kept


def test_a_tampered_byte_is_new_content() -> None:
    assert verify().status is Status.VALID
    flipped = bytes([CARD.record_sig.signature[0] ^ 0x01]) + CARD.record_sig.signature[1:]
    tampered = encode_slot(CARD.record, replace(CARD.record_sig, signature=flipped))
    report = verify(slot=tampered)
    assert report.status is Status.INVALID
    assert reasons(report)[Check.RECORD_SIGNATURE] == (Result.FAILED, "bad_signature")


def test_a_revoked_authority_fails_after_a_kept_success() -> None:
    assert verify().status is Status.VALID
    revoked = PKI.store(crls=(PKI.crl("ed", now=NOW - timedelta(days=1)),))
    report = verify(store=revoked)
    assert report.status is Status.INVALID
    assert reasons(report)[Check.CERTIFICATE_CHAIN] == (Result.FAILED, "revoked")
    assert verify().status is Status.VALID  # the store without that CRL still trusts it


def test_the_same_key_under_another_name_is_not_served_from_the_kept_verdicts() -> None:
    assert verify().status is Status.VALID
    renamed = make_authority_certificate(PKI.root_key, PKI.root_cert,
                                         PKI.keys["ed"].public_key(), "改名后的受理点",
                                         now=NOW, days=30)
    report = verify(store=TrustStore([PKI.root_cert], [renamed]))
    assert reasons(report)[Check.RECORD_SIGNATURE] == (Result.FAILED, "authority_name_mismatch")
    assert report.status is Status.INVALID


def test_time_checks_run_on_every_read() -> None:
    assert verify().status is Status.VALID
    late = verify(at=NOW + timedelta(days=3651))
    assert reasons(late)[Check.CERTIFICATE_CHAIN] == (Result.FAILED, "expired")
    expired = verify_card(SERIAL, CARD.id_file, CARD.slot, b"", PKI.store(),
                          today=CARD.record.expires_on + timedelta(days=1), at=AT)
    assert expired.status is Status.EXPIRED
    assert verify().status is Status.VALID


def test_kept_verdicts_are_bounded_per_content() -> None:
    verify()
    for index in range(verify_module.VERDICTS_PER_CONTENT + 2):
        name = f"受理点{index}"
        cert = make_authority_certificate(PKI.root_key, PKI.root_cert,
                                          PKI.keys["ed"].public_key(), name, now=NOW, days=30)
        verify(store=TrustStore([PKI.root_cert], [cert]))  # fails: never kept
    assert 1 <= len(verdicts()) <= verify_module.VERDICTS_PER_CONTENT
