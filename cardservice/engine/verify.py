"""Verification of a card's content: a report of named checks and one overall status.

:func:`verify_card` never raises for any byte input. Checks it fills: FORMAT,
IDENTITY_SIGNATURE, RECORD_SIGNATURE, CERTIFICATE_CHAIN, VALIDITY, CHIP_AUTHENTIC and
CARD_COUNTER (from the chip's answer, :class:`ChipEvidence`); REVOCATION stays NOT_CHECKED
("not_checked_registry") until :meth:`VerificationReport.with_registry`, and so does ROLLBACK
unless the card's own counter already shows the record is older than the card's last write.
SPONSOR stays NOT_CHECKED until the registry is known too: on a family member's card it is a
*warning* (``sponsor_not_eligible``) when the sponsor no longer holds an eligible permit; a
warning never changes the status.

Status precedence: blank (empty EF.ID) > invalid (any failed check other than an expired
VALIDITY or REVOCATION) > revoked > expired > unsigned (a signature or record missing) > valid.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from card_layout.errors import FieldError, FormatError
from card_layout.files import SERIAL_LEN
from card_layout.identity import Identity
from card_layout.idfile import decode_identity_body, decode_identity_file
from card_layout.record import ResidenceRecord
from card_layout.signature import SignatureBlock
from card_layout.slots import SlotState, current_slot, read_slots
from cardservice.engine.report import (
    CHECK,
    CHECKS,
    NOT_CHECKED_REGISTRY,
    RESULT,
    STATUS,
    Check,
    CheckResult,
    ChipEvidence,
    Result,
    Status,
    VerificationReport,
    failure,
    not_checked,
    rollback_check,
    status_of,
    succeeded,
)
from cardservice.pki.chip import chip_answer_valid
from cardservice.pki.signing import SignatureInvalid, identity_tbs, record_tbs, verify_block
from cardservice.pki.trust import Authority, TrustError, TrustStore

#: the report's types live in engine.report; callers import them from here as well
__all__ = ["Check", "CheckResult", "ChipEvidence", "Result", "Status", "VerificationReport",
           "status_of", "verify_card"]

logger = logging.getLogger(__name__)



# --- verify_card -------------------------------------------------------------------------


#: Decoded card contents kept by :func:`_parse` (a few KB each; the cards recently read).
PARSED_CACHE = 256
#: Signature verdicts kept per decoded content (one serial and one authority pair in practice).
VERDICTS_PER_CONTENT = 8

#: (serial, identity authority, record authority) -> (IDENTITY_SIGNATURE, RECORD_SIGNATURE)
_VerdictKey = tuple[bytes, tuple[bytes, str] | None, tuple[bytes, str] | None]

@dataclass(frozen=True)
class _Parsed:
    """What decoding produced, before any signature is checked."""

    identity: Identity | None
    identity_sig: SignatureBlock | None
    id_error: FormatError | None
    slots: tuple[SlotState, SlotState]
    current: SlotState | None
    #: signature verdicts that held for exactly this content (see :func:`_signatures`)
    verdicts: dict[_VerdictKey, tuple[CheckResult, CheckResult]] = field(
        default_factory=dict, compare=False, hash=False, repr=False)


def verify_card(
    serial: bytes,
    id_file: bytes,
    slot_a: bytes,
    slot_b: bytes,
    trust: TrustStore,
    *,
    today: date,
    at: datetime,
    chip: ChipEvidence | None = None,
    photo: bytes | None = None,
) -> VerificationReport:
    """The verification report of one card's content. Never raises for any byte input.

    ``chip``: the card's counter and INTERNAL AUTHENTICATE answer (None: not asked, e.g. files
    read from an image; CHIP_AUTHENTIC and CARD_COUNTER are then not checked). ``photo``:
    EF.PHOTO when it was read; a photo that does not match the signed hash fails
    IDENTITY_SIGNATURE with ``bad_signature``."""
    try:
        return _verify(bytes(serial), bytes(id_file), bytes(slot_a), bytes(slot_b), trust,
                       today, at, chip, None if photo is None else bytes(photo))
    except Exception:  # a bug must still give a verdict, never a crash
        logger.exception("verification failed unexpectedly")
        checks = (failure(CHECK.FORMAT, "internal_error"),) + _rest_not_checked(CHECK.FORMAT)
        return VerificationReport(STATUS.INVALID, checks, bytes(serial), None, None, None,
                                  None, None, None)


@functools.lru_cache(maxsize=16)
def _rest_not_checked(*done: Check, reason: str = "not_checked") -> tuple[CheckResult, ...]:
    """Every check not in ``done``, not checked (in Check order)."""
    registry = (CHECK.REVOCATION, CHECK.ROLLBACK, CHECK.SPONSOR)
    return tuple(not_checked(c, NOT_CHECKED_REGISTRY if c in registry else reason)
                 for c in Check if c not in done)


def _verify(serial: bytes, id_file: bytes, slot_a: bytes, slot_b: bytes, trust: TrustStore,
            today: date, at: datetime, chip: ChipEvidence | None,
            photo: bytes | None) -> VerificationReport:
    parsed = _parse(id_file, slot_a, slot_b)
    current = parsed.current
    checks = _checks(serial, parsed, trust, today, at)
    bound, chip_failed = None, False  # the counter is trusted unless the chip failed
    if checks[0].result is RESULT.SUCCEEDED:
        checks, chip_failed = _with_chip(checks, serial, parsed, chip, photo)
        bound = _bound_photo(parsed.identity, photo)
    counter = chip.counter if chip is not None and not chip_failed else None
    return VerificationReport(
        status_of(checks), checks, serial, parsed.identity,
        current.record if current else None, current.fid if current else None,
        parsed.identity_sig, current.signature if current else None, parsed.slots,
        counter=counter, photo=bound)


def _with_chip(checks: tuple[CheckResult, ...], serial: bytes, parsed: _Parsed,
               chip: ChipEvidence | None,
               photo: bytes | None) -> tuple[tuple[CheckResult, ...], bool]:
    """(the checks with CHIP_AUTHENTIC, CARD_COUNTER and ROLLBACK from the counter, and the
    photo check folded into IDENTITY_SIGNATURE; whether CHIP_AUTHENTIC failed)."""
    record = parsed.current.record if parsed.current else None
    updated = list(checks)  # in CHECKS order, as _checks gives them
    authentic = updated[_AT_CHIP] = _chip_authentic(serial, parsed.identity, chip)
    counter = chip.counter if chip is not None else None
    chip_failed = authentic.result is RESULT.FAILED
    if chip_failed:
        counter = None  # a chip that cannot prove itself vouches for no counter
    updated[_AT_COUNTER] = _card_counter(record, counter, chip)
    updated[_AT_ROLLBACK] = rollback_check(record, None, counter)
    if photo is not None and not _photo_matches(parsed.identity, photo):
        updated[_AT_IDENTITY] = failure(CHECK.IDENTITY_SIGNATURE, "bad_signature")
    return tuple(updated), chip_failed


#: where :func:`_with_chip` puts its checks in a report's CHECKS-ordered tuple
_AT_CHIP, _AT_COUNTER, _AT_ROLLBACK, _AT_IDENTITY = (
    CHECKS.index(c) for c in (CHECK.CHIP_AUTHENTIC, CHECK.CARD_COUNTER, CHECK.ROLLBACK,
                              CHECK.IDENTITY_SIGNATURE))


def _chip_authentic(serial: bytes, identity: Identity | None,
                    chip: ChipEvidence | None) -> CheckResult:
    check = CHECK.CHIP_AUTHENTIC
    if identity is None or identity.chip_public_key is None:
        return not_checked(check, "no_chip_key")
    if chip is None:
        return not_checked(check, "not_challenged")
    if chip.counter is None or chip.challenge is None or chip.answer is None:
        return failure(check, "no_answer")
    if not chip_answer_valid(identity.chip_public_key, serial, chip.counter, chip.challenge,
                             chip.answer):
        return failure(check, "bad_signature")
    return succeeded(check)


def _card_counter(record: ResidenceRecord | None, counter: int | None,
                  chip: ChipEvidence | None) -> CheckResult:
    check = CHECK.CARD_COUNTER
    if counter is None:
        return not_checked(check, "no_counter" if chip is None or chip.counter is None
                        else "chip_not_authentic")
    if record is None:
        return not_checked(check, "no_record")
    if record.sequence < counter:
        return failure(check, "sequence_below_counter")
    return succeeded(check)


def _photo_matches(identity: Identity | None, photo: bytes) -> bool:
    """EF.PHOTO as read agrees with the signed identity: the hash, or no photo on either side."""
    expected = identity.photo_sha256 if identity is not None else None
    if expected is None:
        return True  # an unbound photo is not shown (see _bound_photo) and proves nothing
    return hashlib.sha256(photo).digest() == expected


def _bound_photo(identity: Identity | None, photo: bytes | None) -> bytes | None:
    if photo is None or identity is None or identity.photo_sha256 is None:
        return None
    return photo if hashlib.sha256(photo).digest() == identity.photo_sha256 else None


@functools.lru_cache(maxsize=PARSED_CACHE)
def _parse(id_file: bytes, slot_a: bytes, slot_b: bytes) -> _Parsed:
    """The card's files decoded: a pure function of their bytes, so a card read again with the
    same content is not decoded again (the time- and trust-dependent checks always run)."""
    slots = read_slots(slot_a, slot_b)
    current = current_slot(slots)
    try:
        identity, sig = decode_identity_file(id_file)
        return _Parsed(identity, sig, None, slots, current)
    except FormatError as exc:
        identity = _unsigned_identity(id_file) if exc.reason == "unsigned" else None
        return _Parsed(identity, None, exc, slots, current)


def _unsigned_identity(id_file: bytes) -> Identity | None:
    try:
        return decode_identity_body(id_file)[0]
    except (FormatError, FieldError):
        return None


def _checks(serial: bytes, parsed: _Parsed, trust: TrustStore, today: date,
            at: datetime) -> tuple[CheckResult, ...]:
    if parsed.id_error is not None and parsed.id_error.reason == "empty":
        return (not_checked(CHECK.FORMAT, "empty"),) + _rest_not_checked(CHECK.FORMAT,
                                                                      reason="empty")
    format_result = _format_check(serial, parsed)
    if format_result.result is RESULT.FAILED:
        return (format_result,) + _rest_not_checked(CHECK.FORMAT)
    record_sig = parsed.current.signature if parsed.current else None
    # the record's signed time judges a revoked certificate for both signatures: the identity
    # was signed no later than the record that binds it (docs/signing.md)
    signed_at = parsed.current.record.signed_at if parsed.current and parsed.current.record \
        else None
    id_auth, id_chain = _resolve(trust, parsed.identity_sig, at, signed_at)
    # the same authority signed both in the common case: resolving depends only on the key id
    same_key = record_sig is not None and parsed.identity_sig is not None \
        and record_sig.key_id == parsed.identity_sig.key_id
    rec_auth, rec_chain = (id_auth, id_chain) if same_key \
        else _resolve(trust, record_sig, at, signed_at)
    results = (
        format_result,
        *_signatures(serial, parsed, (id_auth, id_chain), (rec_auth, rec_chain)),
        _chain_check(id_chain, rec_chain),
        _validity(parsed.current.record if parsed.current else None, today),
    )
    return results + _rest_not_checked(*_CARD_CHECKS)


#: the checks :func:`_checks` makes of the card's own content, in its order
_CARD_CHECKS = (CHECK.FORMAT, CHECK.IDENTITY_SIGNATURE, CHECK.RECORD_SIGNATURE,
                CHECK.CERTIFICATE_CHAIN, CHECK.VALIDITY)


def _format_check(serial: bytes, parsed: _Parsed) -> CheckResult:
    if len(serial) != SERIAL_LEN:
        return failure(CHECK.FORMAT, "bad_serial")
    if parsed.id_error is not None and parsed.id_error.reason != "unsigned":
        return failure(CHECK.FORMAT, parsed.id_error.reason)
    if parsed.current is None:
        errors = [s.error.reason for s in parsed.slots
                  if s.error is not None and s.error.reason not in ("empty", "unsigned")]
        if errors:
            return failure(CHECK.FORMAT, errors[0])
    return succeeded(CHECK.FORMAT)


def _resolve(trust: TrustStore, sig: SignatureBlock | None, at: datetime,
             signed_at: datetime | None = None) -> tuple[Authority | None, CheckResult | None]:
    """(the authority whose key checks the signature, a failed chain result or None).

    When the chain fails but a certificate with the key id exists, its key still checks the
    signature, so the report tells a bad signature from a bad certificate."""
    if sig is None:
        return None, None
    try:
        return trust.resolve(sig.key_id, at, signed_at), None
    except TrustError as exc:
        known = [a for a in trust.authorities if a.key_id == sig.key_id]
        return (known[0] if known else None), failure(CHECK.CERTIFICATE_CHAIN, exc.reason)


def _signatures(serial: bytes, parsed: _Parsed,
                identity: tuple[Authority | None, CheckResult | None],
                record: tuple[Authority | None, CheckResult | None],
                ) -> tuple[CheckResult, CheckResult]:
    """IDENTITY_SIGNATURE and RECORD_SIGNATURE, each with its (authority, failed chain).

    Both are a pure function of the card's bytes, its serial and each authority's exact public
    key and name, so verdicts where neither failed are kept with the decoded content
    (``parsed.verdicts``, as long as :func:`_parse` keeps it): a card read again with the same
    bytes skips the signed-bytes encoding and the signature checks. The authorities themselves
    are still resolved on every read (chain, CRL, validity windows at ``at``); a failure is
    never kept, so a tampered or copied card is checked in full every time."""
    key = (serial, _authority_key(identity[0]), _authority_key(record[0]))
    kept = parsed.verdicts.get(key)
    if kept is not None:
        return kept
    results = (_identity_signature(serial, parsed, *identity),
               _record_signature(serial, parsed, *record))
    if all(r.result is not RESULT.FAILED for r in results):
        if len(parsed.verdicts) >= VERDICTS_PER_CONTENT:
            parsed.verdicts.clear()
        parsed.verdicts[key] = results
    return results


def _authority_key(authority: Authority | None) -> tuple[bytes, str] | None:
    return None if authority is None else (authority.spki, authority.name)


def _chain_check(*chains: CheckResult | None) -> CheckResult:
    for chain in chains:
        if chain is not None:
            return chain
    return succeeded(CHECK.CERTIFICATE_CHAIN)


def _identity_signature(serial: bytes, parsed: _Parsed, authority: Authority | None,
                        chain: CheckResult | None) -> CheckResult:
    check, sig = CHECK.IDENTITY_SIGNATURE, parsed.identity_sig
    if sig is None or parsed.identity is None:
        return not_checked(check, "unsigned")
    if authority is None:
        return failure(check, chain.reason if chain else "unknown_key_id")
    return _verified(check, authority, sig, identity_tbs(serial, parsed.identity, sig.key_id))


def _record_signature(serial: bytes, parsed: _Parsed, authority: Authority | None,
                      chain: CheckResult | None) -> CheckResult:
    check, current = CHECK.RECORD_SIGNATURE, parsed.current
    if current is None or current.record is None or current.signature is None:
        return not_checked(check, "no_record")
    if parsed.identity_sig is None:
        return not_checked(check, "unsigned")
    if authority is None:
        return failure(check, chain.reason if chain else "unknown_key_id")
    sig = current.signature
    tbs = record_tbs(serial, parsed.identity_sig.signature, current.record, sig.key_id)
    result = _verified(check, authority, sig, tbs)
    if result.result is RESULT.SUCCEEDED and current.record.issuing_authority != authority.name:
        return failure(check, "authority_name_mismatch")
    return result


def _verified(check: Check, authority: Authority, sig: SignatureBlock,
              tbs: bytes) -> CheckResult:
    try:
        verify_block(authority.public_key, sig, tbs)
    except SignatureInvalid as exc:
        return failure(check, exc.reason)
    return succeeded(check)


def _validity(record: ResidenceRecord | None, today: date) -> CheckResult:
    if record is None:
        return not_checked(CHECK.VALIDITY, "no_record")
    if today > record.expires_on:
        return failure(CHECK.VALIDITY, "expired")
    if today < record.issued_on:
        return failure(CHECK.VALIDITY, "not_yet_valid")
    return succeeded(CHECK.VALIDITY)
