"""JSON-ready views of cards, registry rows and audit entries, shared by the CLI (``--json``) and
the HTTP API so that both return the same content."""

from __future__ import annotations

import base64
from typing import Any

from card_layout.nationality import nationality_name
from cardservice.engine.operations import CardView
from cardservice.store.audit import AuditEntry
from cardservice.store.registry import CardRow


def card_dict(view: CardView) -> dict[str, Any]:
    report = view.report
    identity = None
    if report.identity is not None:
        i = report.identity
        identity = {
            "name": i.name,
            "gender": i.gender.label,
            "nationality": nationality_name(i.nationality),
            "nationality_code": i.nationality,
            "citizen_number": i.citizen_number,
            "birth_date": i.birth_date.isoformat(),
            "household_address": i.household_address,
            "photo_sha256": i.photo_sha256.hex() if i.photo_sha256 is not None else None,
            "photo": base64.b64encode(report.photo).decode() if report.photo else None,
        }
    residence = None
    if report.record is not None and view.locked:
        r = report.record
        residence = {
            "current_residence": r.current_residence,
            "issuing_authority": r.issuing_authority,
            "issued_on": r.issued_on.isoformat(),
            "expires_on": r.expires_on.isoformat(),
            "permit_type": r.permit_type.value,
            "basis": r.basis,
            "sponsor_citizen_number": r.sponsor_citizen_number,
            "sequence": r.sequence,
            "signed_at": r.signed_at.isoformat() if r.signed_at else None,
        }
    return {
        "card_serial": report.serial.hex(),
        "state": "personalized" if view.locked else "blank",
        "identity": identity if view.locked else None,
        "residence": residence,
        "verification": {
            "status": report.status.value,
            "status_reason": _status_reason(view),
            "checks": [
                {"check": c.check.value, "result": c.result.value, "reason": c.reason}
                for c in report.checks
            ],
        },
        "registry": registry_dict(view.registry) if view.registry else None,
        "registry_error": view.registry_error,
        "reconciled": [{"intent_id": intent_id,
                        "outcome": "reconciled_success" if landed else "reconciled_failure"}
                       for intent_id, landed in view.reconciled],
    }


def _status_reason(view: CardView) -> str | None:
    """Why the status rests on the card alone: ``registry_unavailable`` when offline."""
    error = view.registry_error
    return "registry_unavailable" if error and error["code"] == "REGISTRY_UNAVAILABLE" else None


def registry_dict(row: CardRow) -> dict[str, Any]:
    return {
        "card_serial": row.serial,
        "citizen_number": row.citizen_number,
        "status": row.status.value,
        "last_sequence": row.last_sequence,
        "issuing_authority": row.issuing_authority,
        "permit_type": row.permit_type,
        "basis": row.basis,
        "sponsor_citizen_number": row.sponsor_citizen_number,
        "expires_on": row.expires_on.isoformat(),
        "revoked_reason": row.revoked_reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "issued_site": row.issued_site,
        "last_write_site": row.last_write_site,
        "pending_sequence": row.pending_sequence,
        "pending_site": row.pending_site,
        "pending_since": row.pending_since.isoformat() if row.pending_since else None,
    }


def audit_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "ts": entry.ts.isoformat(),
        "kind": entry.kind,
        "operation": entry.operation,
        "card_serial": entry.card_serial,
        "reader": entry.reader,
        "actor": entry.actor,
        "intent_id": entry.intent_id,
        "outcome": entry.outcome,
        "sequence": entry.sequence,
        "detail": entry.detail,
        "hash": entry.hash.hex(),
        "site_id": entry.site_id,
        "site_seq": entry.site_seq,
    }
