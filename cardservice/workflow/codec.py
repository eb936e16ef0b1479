"""An application to and from its stored JSON body and its API view (the same field names)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cardservice.engine.policy import Evidence
from cardservice.store.applications import ApplicationRow
from cardservice.workflow.model import (
    Application,
    Decision,
    Family,
    Kind,
    Replacement,
    Residence,
    State,
    UnsettledWrite,
)


def to_body(app: Application) -> dict[str, Any]:
    """The JSON-ready form of ``app`` (stored as the row's body and answered by the API)."""
    return {
        "id": app.id,
        "kind": app.kind.value,
        "status": app.status.value,
        "identity": dict(app.identity),
        "residence": {"current_residence": app.residence.current_residence,
                      "permit_type": app.residence.permit_type, "basis": app.residence.basis},
        "evidence": None if app.evidence is None else
        {"kind": app.evidence.kind, "reference": app.evidence.reference},
        "sponsor": None if app.family is None else
        {"citizen_number": app.family.sponsor_citizen_number,
         "relationship": app.family.relationship},
        "replacement": None if app.replacement is None else
        {"card_serial": app.replacement.old_card_serial, "reason": app.replacement.reason},
        "site": app.site,
        "submitted_at": app.submitted_at.isoformat(),
        "submitted_by": app.submitted_by,
        "due_on": app.due_on.isoformat(),
        "due_on_provisional": app.due_on_provisional,
        "card_serial": app.card_serial,
        "reason": app.reason,
        "photo": app.photo,
        "decisions": [{"action": d.action, "actor": d.actor, "site": d.site,
                       "at": d.at.isoformat(), "reason": d.reason} for d in app.decisions],
    }


def from_row(row: ApplicationRow) -> Application:
    """The application a stored row holds (its columns win over the body where both exist)."""
    b = row.body
    return Application(
        id=row.id, kind=Kind(row.kind), identity=dict(b["identity"]),
        residence=Residence(b["residence"]["current_residence"],
                            b["residence"]["permit_type"], b["residence"].get("basis")),
        site=row.site, submitted_at=row.submitted_at, submitted_by=b["submitted_by"],
        due_on=row.due_on, due_on_provisional=bool(b.get("due_on_provisional")),
        status=State(row.status),
        evidence=_evidence(b.get("evidence")),
        family=None if not b.get("sponsor") else
        Family(b["sponsor"]["citizen_number"], b["sponsor"]["relationship"]),
        replacement=None if not b.get("replacement") else
        Replacement(b["replacement"]["card_serial"], b["replacement"]["reason"]),
        card_serial=row.card_serial, reason=b.get("reason"), photo=b.get("photo"),
        decisions=tuple(Decision(d["action"], d["actor"], d["site"],
                                 datetime.fromisoformat(d["at"]), d.get("reason"))
                        for d in b.get("decisions", [])),
    )


def view(app: Application, today: date | None = None,
         unsettled: UnsettledWrite | None = None) -> dict[str, Any]:
    """What the API and ``--json`` answer: the body, plus ``overdue`` when ``today`` is known
    and ``unsettled_write`` (:meth:`ApplicationService.views`)."""
    body = to_body(app)
    if today is not None:
        body["overdue"] = app.overdue(today)
    body["unsettled_write"] = None if unsettled is None else {
        "card_serial": unsettled.card_serial, "intent_id": unsettled.intent_id,
        "since": unsettled.since.isoformat()}
    return body


def _evidence(raw: dict | None) -> Evidence | None:
    return None if not raw else Evidence(raw["kind"], raw["reference"])
