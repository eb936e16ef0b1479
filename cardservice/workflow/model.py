"""Applications for a permit card and their state machine (pure: no I/O, no clock).

``submitted`` -> ``audited`` (the acceptance point approves) -> ``certified`` (the county
approves) -> ``produced`` (a card is personalized, its serial linked) -> ``handed_over`` (the
holder collected it; only now is the card active). ``rejected`` (with a reason, from
``submitted`` or ``audited``) and ``cancelled`` end it. Any other step is
:class:`~cardservice.errors.ApplicationStateError` naming the current state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from cardservice.engine.policy import Evidence
from cardservice.errors import ApplicationStateError


class Kind(str, Enum):
    FIRST_ISSUE = "first_issue"
    REPLACEMENT = "replacement"
    FAMILY = "family"


class State(str, Enum):
    SUBMITTED = "submitted"
    AUDITED = "audited"
    CERTIFIED = "certified"
    PRODUCED = "produced"
    HANDED_OVER = "handed_over"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: States in which an application still holds the citizen's place (one person, one card).
OPEN_STATES = frozenset({State.SUBMITTED, State.AUDITED, State.CERTIFIED, State.PRODUCED})

#: action -> {from state: to state}
TRANSITIONS: dict[str, dict[State, State]] = {
    "audit_approve": {State.SUBMITTED: State.AUDITED},
    "audit_reject": {State.SUBMITTED: State.REJECTED},
    "certify_approve": {State.AUDITED: State.CERTIFIED},
    "certify_reject": {State.AUDITED: State.REJECTED},
    "produce": {State.CERTIFIED: State.PRODUCED},
    "hand_over": {State.PRODUCED: State.HANDED_OVER},
    "cancel": {State.SUBMITTED: State.CANCELLED, State.AUDITED: State.CANCELLED,
               State.CERTIFIED: State.CANCELLED},
}

RELATIONSHIPS = ("spouse", "child", "parent")
REPLACEMENT_REASONS = ("lost", "damaged")


def next_state(current: State, action: str) -> State:
    """The state ``action`` leads to from ``current``; ApplicationStateError if not allowed."""
    target = TRANSITIONS[action].get(State(current))
    if target is None:
        allowed = sorted(s.value for s in TRANSITIONS[action])
        raise ApplicationStateError(
            f"the application is {State(current).value}; {action.replace('_', ' ')} needs "
            f"{' or '.join(allowed)}", state=State(current).value)
    return target


@dataclass(frozen=True)
class Family:
    """A family member's application: the sponsor and how they are related."""

    sponsor_citizen_number: str
    relationship: str


@dataclass(frozen=True)
class Replacement:
    """A replacement: the card it replaces and why."""

    old_card_serial: str
    reason: str


@dataclass(frozen=True)
class Residence:
    current_residence: str
    permit_type: str
    basis: int | None = None


@dataclass(frozen=True)
class Decision:
    """One step of an application: who took it, where, when (an audit entry too)."""

    action: str
    actor: str
    site: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class Application:
    id: str
    kind: Kind
    #: the identity fields as ``POST /v1/readers/{id}/card/issue`` takes them
    identity: dict[str, str]
    residence: Residence
    site: str
    submitted_at: datetime
    submitted_by: str
    due_on: date
    due_on_provisional: bool = False
    status: State = State.SUBMITTED
    evidence: Evidence | None = None
    family: Family | None = None
    replacement: Replacement | None = None
    card_serial: str | None = None
    reason: str | None = None
    decisions: tuple[Decision, ...] = ()
    #: the identity photo, base64 of a JPEG already checked by card_layout.photo
    photo: str | None = None

    @property
    def citizen_number(self) -> str:
        return self.identity["citizen_number"]

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATES

    def step(self, action: str, decision: Decision, **changes: object) -> Application:
        """This application after ``action`` (state checked), with the decision recorded."""
        status = next_state(self.status, action)
        return dataclasses.replace(self, status=status, decisions=(*self.decisions, decision),
                                   **changes)

    def overdue(self, today: date) -> bool:
        return self.status in OPEN_STATES and self.due_on < today


@dataclass(frozen=True)
class UnsettledWrite:
    """A production write with no outcome yet: its run is writing the card now, or stopped
    mid-write and the card left its reader. Reading that card anywhere settles it."""

    card_serial: str
    intent_id: int
    since: datetime


def mask_citizen_number(citizen_number: str) -> str:
    """The citizen number as a receipt shows it: first 6 and last 4 characters."""
    text = citizen_number.strip()
    return text[:6] + "*" * max(len(text) - 10, 0) + text[-4:]
