"""Applications as the sites work them: submit at the acceptance point, audit, certify at the
county centre, produce (:mod:`cardservice.workflow.production`), hand over, cancel.

Every step checks the state machine (:mod:`~cardservice.workflow.model`), re-checks the rules
where the issue asks for it (certification and production), records who decided it at which site
in the application and as an audit event (``application.<action>``), and changes the stored row
by compare-and-set on the state it was decided from.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from card_layout.errors import FieldError
from card_layout.identity import Identity
from cardservice import errors
from cardservice.engine.area import ANYWHERE, SiteArea
from cardservice.engine.model import CardView
from cardservice.engine.operations import Clock
from cardservice.engine.verify import Status
from cardservice.face import Face, as_service_errors
from cardservice.store.applications import ApplicationStore
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardRow, Registry, normalize_serial
from cardservice.workflow.calendar import WorkingDayCalendar
from cardservice.workflow.codec import from_row, to_body, view
from cardservice.workflow.model import Application, Decision, Kind, State, UnsettledWrite
from cardservice.workflow.rules import check_application, identity_of

logger = logging.getLogger(__name__)

ID_PREFIX = "A"


@dataclass(frozen=True)
class Actor:
    """Who takes a step (token name or clerk) and at which site."""

    name: str
    site: str


class RegistryLookups:
    """The rules' view of the registry and the applications (:class:`rules.Lookups`)."""

    def __init__(self, registry: Registry, store: ApplicationStore) -> None:
        self.registry, self.store = registry, store

    def active_card(self, citizen_number: str) -> CardRow | None:
        return self.registry.active_card(citizen_number)

    def card(self, serial: str) -> CardRow | None:
        try:
            return self.registry.get(serial)
        except errors.ValidationError:
            return None

    def identity_of_card(self, serial: str) -> Identity | None:
        """The identity the registry holds for a card: the one it was personalized with
        (also for a card issued directly, without an application); for a card issued before
        the registry kept identities, its application's."""
        fields = self.registry.identity(serial)
        if fields is None:
            row = self.store.by_card(serial)
            fields = None if row is None else row.body["identity"]
        if fields is None:
            return None
        try:
            return Identity.create(**fields)
        except FieldError:
            return None

    def open_application(self, citizen_number: str, *, other_than: str | None) -> str | None:
        return self.store.open_application(citizen_number, other_than=other_than)


class ApplicationService:
    def __init__(self, store: ApplicationStore, registry: Registry, audit: AuditLog,
                 calendar: WorkingDayCalendar, clock: Clock, *, face: Face | None = None,
                 site_area: SiteArea | None = None) -> None:
        self.store, self.registry, self.audit = store, registry, audit
        self.calendar, self.clock = calendar, clock
        self.lookups = RegistryLookups(registry, store)
        self.face = face  # the site's card face: what it cannot print is refused at the counter
        self.site_area = site_area or ANYWHERE  # the residences this acceptance point takes

    def today(self) -> date:
        return self.clock().astimezone().date()

    # --- queries ------------------------------------------------------------------------

    def get(self, app_id: str) -> Application:
        return from_row(self.store.require(app_id))

    def find(self, *, status: str | None = None, site: str | None = None,
             citizen_number: str | None = None, overdue: bool = False) -> list[Application]:
        if status is not None and status not in {s.value for s in State}:
            raise errors.ValidationError("status", f"unknown status {status!r}", "choice")
        rows = self.store.find(status=status, site=site, citizen_number=citizen_number,
                               due_before=self.today() if overdue else None)
        return [from_row(r) for r in rows]

    def unsettled_writes(self) -> dict[str, UnsettledWrite]:
        """citizen number -> the production write that has no outcome yet (one look at the
        log's open intents, kept by the database: schema v3 of the audit log)."""
        found = {}
        for entry in self.audit.pending():
            if entry.operation == "issue" and entry.detail.get("register_as") == "produced":
                found[entry.detail["citizen_number"]] = UnsettledWrite(
                    entry.card_serial, entry.id, entry.ts)
        return found

    def views(self, apps: list[Application]) -> list[dict[str, Any]]:
        """What the API, the console and ``--json`` show of each application: its body with
        ``overdue``, and for a certified one whose card write has no outcome yet (a run
        stopped mid-write, the card out of its reader) ``unsettled_write``: no run produces
        that application until the card is read, and reading it anywhere settles it."""
        today = self.today()
        unsettled = (self.unsettled_writes()
                     if any(a.status is State.CERTIFIED for a in apps) else {})
        return [view(a, today, unsettled.get(a.citizen_number)
                     if a.status is State.CERTIFIED else None) for a in apps]

    def view(self, app: Application) -> dict[str, Any]:
        return self.views([app])[0]

    # --- steps --------------------------------------------------------------------------

    def submit(self, draft: Application, actor: Actor) -> Application:
        """Record a new application (``draft``'s id, site, times and state are set here)."""
        now = self.clock()
        app = dataclasses.replace(draft, id="", site=actor.site, submitted_at=now,
                                  submitted_by=actor.name, status=State.SUBMITTED,
                                  decisions=(Decision("submit", actor.name, actor.site, now),))
        self.site_area.check(app.residence.current_residence)  # taken where the holder lives
        check_application(app, self.lookups, self.today())
        self._check_printable(app)
        due = self.calendar.due_on(now)
        app = dataclasses.replace(app, due_on=due,
                                  due_on_provisional=self.calendar.is_provisional(due))
        row = self.store.create(id_prefix=ID_PREFIX, citizen_number=app.citizen_number,
                                kind=app.kind.value, site=actor.site, due_on=due,
                                submitted_at=now, body=to_body(app))
        saved = from_row(row)
        self._audit(saved, "submit", actor, {"kind": saved.kind.value, "due_on": due.isoformat()})
        return saved

    def decide(self, app_id: str, stage: str, approve: bool, reason: str | None,
               actor: Actor) -> Application:
        """``stage`` audit (acceptance point) or certify (county): approve or reject."""
        if stage not in ("audit", "certify"):
            raise errors.ValidationError("stage", "must be audit or certify", "choice")
        if not approve and not (reason or "").strip():
            raise errors.ValidationError("reason", "a rejection needs a reason", "empty")
        app = self.get(app_id)
        if stage == "audit":
            check_own_site(app, actor, "audited")
        action = f"{stage}_{'approve' if approve else 'reject'}"
        if approve and stage == "certify":
            check_application(app, self.lookups, self.today())  # the registry may have changed
            self._check_printable(app)  # with the county centre's face, which produces the card
        return self._step(app, action, actor, reason=reason if not approve else None)

    def _check_printable(self, app: Application) -> None:
        """The identity's side of the card, and the residence on the other, must print with the
        card face (the check every card write makes): a name or address with a character no
        font has, or too long for its box, is refused while the holder is at the counter, not
        when the card is produced. VALIDATION_ERROR, reason ``no_glyph`` or ``does_not_fit``,
        field ``identity.<field>`` or ``residence.current_residence``; a face that cannot be
        used is FACE_UNAVAILABLE."""
        if self.face is None:
            return
        identity = identity_of(app)
        with as_service_errors("identity."):
            self.face.check(identity, None)
        with as_service_errors("residence."):
            self.face.check_field("back", "current_residence", app.residence.current_residence)

    def cancel(self, app_id: str, reason: str | None, actor: Actor) -> Application:
        return self._step(self.get(app_id), "cancel", actor, reason=reason)

    def mark_produced(self, app: Application, serial: str, actor: Actor) -> Application:
        return self._step(app, "produce", actor, card_serial=serial)

    def hand_over(self, app_id: str, card_serial: str, actor: Actor, *,
                  card: CardView | None = None) -> Application:
        """The holder collects the card: it must be the produced one; it becomes active and a
        replaced card is revoked and linked to it. ``card``: the card as read at the counter,
        which must also verify and hold this application's holder (without it, only the serial
        is matched)."""
        app = self.get(app_id)
        serial = normalize_serial(card_serial)
        if card is not None and card.serial.hex() != serial:
            raise errors.CardChangedError(f"the card in the reader is {card.serial.hex()}, "
                                          f"not {serial}; not handed over")
        if app.status is State.PRODUCED and app.card_serial != serial:
            raise errors.CardChangedError(
                f"card {serial} is not the card produced for {app.id} ({app.card_serial})")
        if app.status is not State.PRODUCED:
            return self._step(app, "hand_over", actor)  # raises APPLICATION_STATE
        check_own_site(app, actor, "handed over")
        if card is not None:
            check_handed_card(app, card)
        replaces = reason = None
        if app.kind is Kind.REPLACEMENT and app.replacement is not None:
            replaces = app.replacement.old_card_serial
            reason = "lost" if app.replacement.reason == "lost" else "replaced"
        self.registry.activate(serial, self.clock(), replaces=replaces,
                               replaced_reason=reason or "replaced")
        return self._step(app, "hand_over", actor)

    def _step(self, app: Application, action: str, actor: Actor, *, reason: str | None = None,
              card_serial: str | None = None) -> Application:
        now = self.clock()
        changes: dict[str, object] = {}
        if card_serial is not None:
            changes["card_serial"] = card_serial
        if reason is not None:
            changes["reason"] = reason
        moved = app.step(action, Decision(action, actor.name, actor.site, now, reason), **changes)
        row = self.store.update(app.id, expected_status=app.status.value,
                                status=moved.status.value, now=now, body=to_body(moved),
                                card_serial=card_serial)
        saved = from_row(row)
        detail = {"from": app.status.value, "to": saved.status.value}
        if reason:
            detail["reason"] = reason
        self._audit(saved, action, actor, detail)
        return saved

    def _audit(self, app: Application, action: str, actor: Actor, detail: dict) -> None:
        self.audit.event(operation=f"application.{action}", card_serial=app.card_serial,
                         actor=actor.name,
                         detail={"application": app.id, "site": actor.site, **detail},
                         now=self.clock())


def check_handed_card(app: Application, card: CardView) -> None:
    """The produced card as read at the counter verifies and holds the application's holder:
    a card damaged or altered since production, or one that reads as someone else's, is not
    handed over (CARD_INVALID); the application stays produced."""
    report = card.report
    serial = card.serial.hex()
    if report.status is not Status.VALID:
        failed = ", ".join(f"{c.check.value}: {c.reason}" for c in report.checks
                           if c.result.value == "failed") or report.status.value
        raise errors.CardInvalidError(f"card {serial} does not verify ({failed}); not handed "
                                      "over")
    if report.identity is None or report.identity.citizen_number != app.citizen_number:
        raise errors.CardInvalidError(f"card {serial} does not hold the holder of {app.id}; "
                                      "not handed over")


def check_own_site(app: Application, actor: Actor, done: str) -> None:
    """The acceptance point that took the application audits it and hands its card over
    (county.md): another site's clerk gets FORBIDDEN; the county centre certifies and produces
    for every site."""
    if actor.site != app.site:
        raise errors.OtherSiteError(f"application {app.id} was taken at {app.site}; it is {done} "
                                    f"there, not at {actor.site}")
