"""The write journal: a write's durable audit intent, its registry reservation, whether it
landed on the card, and its outcome (the registry updated, the intent closed)."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import date, datetime, timedelta

from card_layout.files import Fid
from card_layout.record import ResidenceRecord
from cardservice import errors
from cardservice.card.protocol import CardFiles
from cardservice.engine.expiry import RESERVATION_TTL, release_expired
from cardservice.engine.model import CardView, Clock, Intent
from cardservice.engine.policy import Evidence
from cardservice.engine.report import Status
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardStatus, Registry, Terms
from cardservice.transport import CardConnection

#: the card's latest audit entries searched for a repeated request's landed write
REQUEST_LOOKBACK = 50
#: how long a request_id names the same request (the daemon sets its Idempotency-Key retention)
REQUEST_WINDOW = timedelta(hours=24)


class Journal:
    """Intents and outcomes in the audit log, kept in step with the registry."""

    def __init__(self, registry: Registry, audit: AuditLog, clock: Clock,
                 reservation_ttl: timedelta = RESERVATION_TTL) -> None:
        self.registry = registry
        self.audit = audit
        self.clock = clock
        self.reservation_ttl = reservation_ttl

    def intent(self, operation: str, files: CardFiles, conn: CardConnection, actor: str | None,
               record: ResidenceRecord, slot: bytes, *, citizen_number: str,
               slot_fid: Fid = Fid.RES_A, evidence: Evidence | None = None,
               produced: bool = False, request_id: str | None = None) -> Intent:
        """Record (durably) what is about to be written to which slot of which card."""
        detail = intent_detail(record, slot, citizen_number=citizen_number, slot_fid=slot_fid,
                               evidence=evidence, produced=produced, request_id=request_id)
        return self.record_intent(operation, files.serial.hex(), conn.reader_name, actor, detail)

    def record_intent(self, operation: str, serial: str, reader: str | None, actor: str | None,
                      detail: dict) -> Intent:
        """Append the intent ``detail`` (:func:`intent_detail`); durable when this returns."""
        entry_id = self.audit.intent(operation=operation, card_serial=serial, reader=reader,
                                     actor=actor, detail=detail, now=self.clock())
        return Intent(entry_id, serial, detail)

    def pending(self, serial: str) -> list[Intent]:
        """The card's intents whose outcome is not recorded yet."""
        return [Intent(entry.id, serial, entry.detail)
                for entry in self.audit.pending(card_serial=serial)]

    def landed_request(self, serial: str, request_id: str, since: datetime) -> bool:
        """Whether a write of this card asked as ``request_id`` since ``since`` already landed
        (its intent closed with success, reconciled or not): a client's retry of a write whose
        answer it lost then writes nothing again."""
        entries = self.audit.entries(card_serial=serial, limit=REQUEST_LOOKBACK)
        mine = {e.id for e in entries if e.kind == "intent" and e.ts >= since
                and e.detail.get("request_id") == request_id}
        return any(e.kind == "outcome" and e.intent_id in mine
                   and e.outcome in ("success", "reconciled_success") for e in entries)

    def reserve(self, intent: Intent) -> None:
        """Take the registry reservation before the first card APDU: one person, one card and
        revocation are decided here, and an unreachable registry refuses the write now. A
        refusal closes the intent as failed (nothing was written). An expired reservation of
        the same card or citizen is released first (audited; engine/expiry.py)."""
        try:
            self.expire_stale(intent.serial, intent.detail)
            self.take_reservation(intent.serial, intent.detail)
        except errors.CardServiceError as exc:
            self.refused(intent, exc)
            raise

    def expire_stale(self, serial: str, detail: dict) -> None:
        """Release an expired reservation of this card or citizen (audited), before a write
        takes its own."""
        release_expired(self.registry, self.audit, self.clock(), ttl=self.reservation_ttl,
                        serial=serial, citizen_number=detail["citizen_number"])

    def take_reservation(self, serial: str, detail: dict) -> None:
        """The registry's side of the write described by the intent ``detail``."""
        self.registry.reserve(serial=serial, citizen_number=detail["citizen_number"],
                              sequence=detail["sequence"], terms=terms_of(detail),
                              sponsor_citizen_number=detail["sponsor_citizen_number"],
                              now=self.clock())

    def refused(self, intent: Intent, exc: errors.CardServiceError) -> None:
        """Close ``intent`` as failed: the write was refused before any card APDU."""
        with contextlib.suppress(errors.CardServiceError):
            self.audit.outcome(intent.id, success=False, sequence=None, error_code=exc.code,
                               detail={"message": exc.message}, now=self.clock())

    def close(self, intent: Intent, *, success: bool, reconciled: bool = False,
              cause: errors.CardServiceError | None = None) -> None:
        """Register a landed write (or release the reservation) and record the outcome."""
        now = self.clock()
        if success:
            self._register(intent, now)
        else:
            self.registry.release(intent.serial, now)
        code = None if success else (cause.code if cause else "NOT_WRITTEN")
        detail = {} if cause is None else {"message": cause.message}
        self.audit.outcome(intent.id, success=success,
                           sequence=intent.detail["sequence"] if success else None,
                           error_code=code, detail=detail, now=now, reconciled=reconciled)

    def _register(self, intent: Intent, now: datetime) -> None:
        """Confirm the write in the registry (the reservation becomes the card's state)."""
        d = intent.detail
        if d.get("register_as") == CardStatus.PRODUCED.value:
            if self.registry.get(intent.serial) is None:
                terms = terms_of(d)
                self.registry.record_issue(
                    serial=intent.serial, citizen_number=d["citizen_number"],
                    sequence=d["sequence"], issuing_authority=terms.issuing_authority,
                    permit_type=terms.permit_type, basis=terms.basis,
                    expires_on=terms.expires_on,
                    sponsor_citizen_number=d["sponsor_citizen_number"], now=now,
                    status=CardStatus.PRODUCED)
            return
        self.registry.confirm(serial=intent.serial, citizen_number=d["citizen_number"],
                              sequence=d["sequence"], terms=terms_of(d),
                              sponsor_citizen_number=d["sponsor_citizen_number"], now=now)


def intent_detail(record: ResidenceRecord, slot: bytes, *, citizen_number: str,
                  slot_fid: Fid = Fid.RES_A, evidence: Evidence | None = None,
                  produced: bool = False, request_id: str | None = None) -> dict:
    """What an intent records: the slot about to be written (its length and SHA-256) and the
    record's terms the registry takes on confirmation (and the request it answers)."""
    detail = {
        "citizen_number": citizen_number,
        "sequence": record.sequence,
        "slot": slot_fid.name,
        "slot_len": len(slot),
        "slot_sha256": hashlib.sha256(slot).hexdigest(),
        "permit_type": record.permit_type.value,
        "basis": record.basis,
        "sponsor_citizen_number": record.sponsor_citizen_number,
        "expires_on": record.expires_on.isoformat(),
        "issuing_authority": record.issuing_authority,
    }
    if produced:  # from an application: active only once handed over
        detail["register_as"] = CardStatus.PRODUCED.value
    if evidence is not None:
        detail["evidence"] = {"kind": evidence.kind, "reference": evidence.reference}
    if request_id is not None:
        detail["request_id"] = request_id
    return detail


def landed(detail: dict, files: CardFiles, view: CardView) -> bool:
    """Whether the card holds, valid and current, exactly the slot the intent recorded."""
    fid = Fid[detail["slot"]]
    written = files.slot(fid)[: detail["slot_len"]]
    report = view.report
    return (hashlib.sha256(written).hexdigest() == detail["slot_sha256"]
            and files.info.locked and report.status == Status.VALID
            and report.record is not None
            and report.record.sequence == detail["sequence"]
            and report.current_slot == fid)


def terms_of(detail: dict) -> Terms:
    return Terms(detail["issuing_authority"], detail["permit_type"], detail["basis"],
                 date.fromisoformat(detail["expires_on"]))


def open_writes(audit: AuditLog) -> list[tuple[str, str]]:
    """``(serial, citizen number)`` of every write intent not settled yet, at any site: a
    produced card gets its row only once its write is confirmed, and an interrupted one when
    the card is read again; until then the intent stands for it."""
    return [(e.card_serial, e.detail["citizen_number"]) for e in audit.pending()
            if e.card_serial and e.detail.get("citizen_number")]
