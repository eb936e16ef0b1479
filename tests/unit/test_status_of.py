"""status_of's precedence, case by case, and what with_registry / registry_unavailable carry over
(both rebuild the report directly rather than through dataclasses.replace)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from vectors_gen import NOW, SERIALS, TODAY, build_pki, make_card, sample_identity, sample_record

from cardservice.engine.report import CHECK, RESULT, STATUS
from cardservice.engine.verify import (
    Check,
    CheckResult,
    ChipEvidence,
    Result,
    Status,
    status_of,
    verify_card,
)

ALL_OK = {c: CheckResult(c, Result.SUCCEEDED, "ok") for c in Check}


def checks(**changed: tuple[Result, str]) -> tuple[CheckResult, ...]:
    """Every check succeeded but those named (``validity=(Result.FAILED, "expired")``)."""
    out = dict(ALL_OK)
    for name, (result, reason) in changed.items():
        out[Check(name)] = CheckResult(Check(name), result, reason)
    return tuple(out[c] for c in Check)


FAILED, NOT_CHECKED, WARNING = Result.FAILED, Result.NOT_CHECKED, Result.WARNING


@pytest.mark.parametrize(("changed", "status"), [
    ({}, Status.VALID),
    ({"sponsor": (WARNING, "sponsor_not_eligible")}, Status.VALID),
    ({"revocation": (NOT_CHECKED, "not_checked_registry")}, Status.VALID),
    ({"identity_signature": (NOT_CHECKED, "unsigned")}, Status.UNSIGNED),
    ({"record_signature": (NOT_CHECKED, "no_record")}, Status.UNSIGNED),
    ({"validity": (FAILED, "expired")}, Status.EXPIRED),
    ({"validity": (FAILED, "not_yet_valid")}, Status.INVALID),
    ({"revocation": (FAILED, "revoked")}, Status.REVOKED),
    ({"revocation": (FAILED, "revoked"), "validity": (FAILED, "expired")}, Status.REVOKED),
    ({"revocation": (FAILED, "revoked"), "validity": (FAILED, "not_yet_valid")}, Status.INVALID),
    ({"validity": (FAILED, "expired"), "record_signature": (NOT_CHECKED, "no_record")},
     Status.EXPIRED),
    ({"chip_authentic": (FAILED, "bad_signature")}, Status.INVALID),
    ({"revocation": (FAILED, "revoked"), "rollback": (FAILED, "sequence_below_registry")},
     Status.INVALID),
    ({"format": (NOT_CHECKED, "empty"), "identity_signature": (FAILED, "bad_signature")},
     Status.BLANK),
    ({"format": (NOT_CHECKED, "other")}, Status.VALID),
])
def test_status_precedence(changed: dict, status: Status) -> None:
    assert status_of(checks(**changed)) is status


def test_a_missing_signature_check_is_unsigned() -> None:
    kept = tuple(c for c in checks() if c.check is not Check.RECORD_SIGNATURE)
    assert status_of(kept) is Status.UNSIGNED


def test_fast_names_are_the_members() -> None:
    assert all(getattr(CHECK, c.name) is c for c in Check)
    assert all(getattr(RESULT, r.name) is r for r in Result)
    assert all(getattr(STATUS, s.name) is s for s in Status)


def _chip_report():  # type: ignore[no-untyped-def]
    """A verified card's report (the test sets its counter and photo, so every field is set)."""
    pki = build_pki()
    serial = bytes.fromhex(SERIALS["cjk_temporary"])
    record = sample_record("cjk_temporary", "ed", sequence=3)
    card = make_card(pki, serial, sample_identity("cjk_temporary"), record,
                     identity_by="ed", record_by="ed")
    return verify_card(card.serial, card.id_file, card.slot, b"", pki.store(), today=TODAY,
                       at=NOW + timedelta(hours=1), chip=ChipEvidence(None, None, None))


@pytest.mark.parametrize("apply", [
    lambda r: r.with_registry(revoked=True, last_sequence=2, sponsor_eligible=None),
    lambda r: r.registry_unavailable(),
])
def test_registry_verdicts_keep_every_other_field(apply) -> None:  # type: ignore[no-untyped-def]
    report = dataclasses.replace(_chip_report(), counter=7, photo=b"\xff\xd8photo")
    updated = apply(report)
    for field in dataclasses.fields(report)[2:]:
        assert getattr(updated, field.name) is getattr(report, field.name), field.name
    assert [c.check for c in updated.checks] == list(Check)
    assert updated.status is status_of(updated.checks)
    assert updated.check(Check.REVOCATION) != report.check(Check.REVOCATION)
