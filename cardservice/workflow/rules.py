"""The rules an application must meet, checked at submission and again at certification and
production (the registry may have changed in between). Pure: the registry and the other
applications are reached through :class:`Lookups`, ``today`` is a parameter.

- one person, one card: an active card -> ``CITIZEN_HAS_CARD``; another open application ->
  ``APPLICATION_OPEN``; a ``replacement`` instead names the citizen's active (or lost) card;
- a replacement carries the same identity as the registry's record of the old card, field by
  field (``replacement_identity_mismatch``);
- a family application names a spouse, child or parent (``family_relationship_invalid``) whose
  active long-term permit on basis 1, 3 or 4 they hold in their own right (the policy's sponsor
  rules); the permit terms themselves are the policy's (:func:`decide_terms`);
- a long-term basis in the holder's own right needs evidence of a kind that proves it
  (``basis_evidence_required``).
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.record import PermitType
from cardservice import errors
from cardservice.engine.policy import (
    PermitTerms,
    Sponsor,
    check_evidence,
    decide_terms,
)
from cardservice.store.registry import CardRow, CardStatus
from cardservice.workflow.model import (
    RELATIONSHIPS,
    REPLACEMENT_REASONS,
    Application,
    Kind,
)

#: The fields a replacement must carry exactly as the registry holds them.
IDENTITY_FIELDS = ("name", "gender", "nationality", "birth_date", "citizen_number",
                   "household_address")


class Lookups(Protocol):
    """What the rules need to know besides the application."""

    def active_card(self, citizen_number: str) -> CardRow | None: ...

    def card(self, serial: str) -> CardRow | None: ...

    def identity_of_card(self, serial: str) -> Identity | None: ...

    def open_application(self, citizen_number: str, *, other_than: str | None) -> str | None: ...


def identity_of(app: Application) -> Identity:
    """The application's identity as the card will hold it; ValidationError names the field."""
    try:
        return Identity.create(**app.identity)
    except FieldError as exc:
        raise errors.ValidationError(f"identity.{exc.field}", exc.message, exc.reason) from exc


def check_application(app: Application, lookups: Lookups, today: date) -> PermitTerms:
    """Raise the first rule ``app`` breaks; answer the permit terms it would get ``today``."""
    identity = identity_of(app)
    other = lookups.open_application(identity.citizen_number, other_than=app.id)
    if other is not None:
        raise errors.ApplicationOpenError(
            f"citizen {identity.citizen_number} already has open application {other}",
            application_id=other)
    if app.kind is Kind.REPLACEMENT:
        _check_replacement(app, identity, lookups)
    else:
        active = lookups.active_card(identity.citizen_number)
        if active is not None:
            raise errors.CitizenHasCardError(
                f"citizen already holds active card {active.serial}; apply for a replacement",
                serial=active.serial)
    return _terms(app, identity, lookups, today)


def _terms(app: Application, identity: Identity, lookups: Lookups, today: date) -> PermitTerms:
    res = app.residence
    sponsor = None
    if app.kind is Kind.FAMILY:
        sponsor = _sponsor(app, lookups)
    elif res.permit_type == PermitType.LONG_TERM.value and res.basis is not None:
        check_evidence(res.basis, app.evidence, why="a long-term permit")
    try:
        permit_type = PermitType(res.permit_type)
    except ValueError:
        raise errors.ValidationError("residence.permit_type",
                                     f"{res.permit_type!r} is not temporary/long_term",
                                     "unknown_code") from None
    return decide_terms(permit_type=permit_type, basis=res.basis, requested_expires_on=None,
                        today=today, sponsor=sponsor,
                        applicant_citizen_number=identity.citizen_number)


def _sponsor(app: Application, lookups: Lookups) -> Sponsor:
    family = app.family
    if family is None:
        raise errors.ValidationError("sponsor", "a family application names its sponsor", "empty")
    if family.relationship not in RELATIONSHIPS:
        raise errors.PolicyError("family_relationship_invalid",
                                 f"relationship must be one of {', '.join(RELATIONSHIPS)} "
                                 f"(got {family.relationship!r})")
    row = lookups.active_card(family.sponsor_citizen_number)
    if row is None:
        raise errors.PolicyError("sponsor_not_registered",
                                 "the sponsor holds no active card in the registry")
    return Sponsor(row.citizen_number, PermitType(row.permit_type), row.basis, row.expires_on,
                   sponsored_by=row.sponsor_citizen_number)


def _check_replacement(app: Application, identity: Identity, lookups: Lookups) -> None:
    rep = app.replacement
    if rep is None:
        raise errors.ValidationError("replacement", "a replacement names the old card", "empty")
    if rep.reason not in REPLACEMENT_REASONS:
        raise errors.ValidationError("replacement.reason",
                                     f"must be one of {', '.join(REPLACEMENT_REASONS)}", "choice")
    old = lookups.card(rep.old_card_serial)
    if old is None or old.citizen_number != identity.citizen_number:
        raise errors.PolicyError("replacement_identity_mismatch",
                                 f"card {rep.old_card_serial} is not this citizen's card")
    if old.status not in (CardStatus.ACTIVE, CardStatus.LOST):
        raise errors.CardRevokedError(f"card {old.serial} is {old.status.value}; nothing to "
                                      "replace", serial=old.serial)
    active = lookups.active_card(identity.citizen_number)
    if active is not None and active.serial != old.serial:
        raise errors.CitizenHasCardError(f"citizen holds active card {active.serial}, not "
                                         f"{old.serial}", serial=active.serial)
    registered = lookups.identity_of_card(old.serial)
    if registered is None:
        raise errors.PolicyError("replacement_identity_mismatch",
                                 f"the registry holds no identity for card {old.serial}")
    differ = identity_differences(registered, identity)
    if differ:
        raise errors.PolicyError("replacement_identity_mismatch",
                                 f"differs from the registry's record in {', '.join(differ)}")


def identity_differences(registered: Identity, applied: Identity) -> list[str]:
    """The identity fields (:data:`IDENTITY_FIELDS`) in which two identities differ."""
    return [f for f in IDENTITY_FIELDS if getattr(registered, f) != getattr(applied, f)]
