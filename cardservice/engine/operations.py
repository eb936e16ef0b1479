"""Permit-card operations: read, issue, re-sign, renew, revoke, reconcile.

Every write follows the same discipline:

1. read the whole card and verify it inside one PC/SC transaction;
2. decide the new content (policy, with ``today`` from the injected clock) and sign it;
3. record an audit *intent* (durable) holding what will be written;
4. re-read the serial, authenticate, write the non-current slot, read it back and verify;
5. update the registry, then record the *outcome*.

A failure before the first write APDU records a failed outcome. A failure after it leaves the
intent pending and the engine tries at once to reconcile it by reading the card again; if the card
is gone the intent stays pending until the card is next read (or the daemon starts).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from card_layout.files import Fid, KeyRef
from card_layout.identity import Identity
from card_layout.idfile import encode_identity_file
from card_layout.record import ResidenceRecord
from card_layout.slots import encode_slot, next_slot
from cardservice import errors
from cardservice.card.protocol import CardFiles, Rp1Card
from cardservice.engine.area import ANYWHERE, SiteArea
from cardservice.engine.expiry import RESERVATION_TTL, release_expired
from cardservice.engine.guards import check_expected, issue_file_lock, read_or_none
from cardservice.engine.journal import REQUEST_WINDOW, Journal, intent_detail, landed
from cardservice.engine.model import (
    CardView,
    Clock,
    Intent,
    PermitRequest,
    damaged,
    error_block,
    identity_fields,
    locked_but_empty,
    unregistered,
    utc_now,
)
from cardservice.engine.overlap import OpenWrite, in_background, open_write, replace_slot
from cardservice.engine.policy import PermitTerms, check_direct_issue
from cardservice.engine.reading import read_files
from cardservice.engine.reconcile import Reconciliation
from cardservice.engine.registry_ops import RegistryOperations
from cardservice.engine.terms import TermsRules, build_record, writable_record
from cardservice.engine.verify import ChipEvidence, Status, VerificationReport, verify_card
from cardservice.engine.verifyonly import VerifyOnly
from cardservice.face import Face, LayoutError, as_service_errors
from cardservice.pki.keys import Keys
from cardservice.pki.signing import sign_identity, sign_record
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardStatus, Registry
from cardservice.transport import CardConnection

#: the value types live in engine.model; callers import them from here as well
__all__ = ["CardView", "Clock", "Engine", "Intent", "PermitRequest", "utc_now"]

logger = logging.getLogger(__name__)


class Engine(RegistryOperations, Reconciliation):
    """The service's operations on one card connection at a time (callers serialise per reader)."""

    def __init__(self, keys: Keys | None, registry: Registry, audit: AuditLog, *,
                 clock: Clock = utc_now, issue_lock_path: Path | None = None,
                 verify_only: VerifyOnly | None = None, face: Face | None = None,
                 require_applications: bool = False,
                 site_area: SiteArea | None = None) -> None:
        self.keys = keys
        self.verify_only = verify_only
        self.face = face or Face()  # the default layout unless the data directory has one
        #: a direct issue (not from a certified application) is refused
        self.require_applications = require_applications
        self.site_area = site_area or ANYWHERE  # the residences this site takes
        self.registry = registry
        self.audit = audit
        self.clock = clock
        #: an unconfirmed write reservation older than this is released (engine/expiry.py)
        self.reservation_ttl = RESERVATION_TTL
        #: how long a request_id counts as the same request (the API's Idempotency-Key retention)
        self.request_window = REQUEST_WINDOW
        self._issue_lock = threading.Lock()
        self._issue_lock_path = issue_lock_path

    @property
    def _journal(self) -> Journal:
        return Journal(self.registry, self.audit, self.clock, self.reservation_ttl)

    @property
    def _terms_rules(self) -> TermsRules:
        return TermsRules(self.registry, self.today)

    # --- reading ------------------------------------------------------------------------

    def today(self) -> date:
        return self.clock().astimezone().date()

    def view(self, files: CardFiles) -> CardView:
        return self._county_verdict(self._with_registry(files, self._verify(files)))

    def _county_verdict(self, view: CardView) -> CardView:
        """A card the county registry does not know reads ``invalid`` (``not_registered``), so
        it is neither trusted nor re-signed (which would adopt it); a site's own registry
        (SQLite) does not know other sites' cards and leaves revocation not checked."""
        if (view.registry is None and view.registry_error is None and view.locked
                and view.report.status in (Status.VALID, Status.EXPIRED)
                and self.verify_only is None and self.registry.authoritative):
            return dataclasses.replace(view, report=unregistered(view.report))
        return view

    def _verify(self, files: CardFiles) -> VerificationReport:
        """The card's own verdicts (format, signatures, chain, validity), before the registry."""
        now = self.clock()
        trust = self.verify_only.trust(now) if self.verify_only else self.keys.trust
        chip = ChipEvidence(files.info.counter, files.chip_challenge, files.chip_answer)
        return verify_card(files.serial, files.identity, files.slot_a, files.slot_b,
                           trust, today=now.astimezone().date(), at=now, chip=chip,
                           photo=files.photo)

    def _writable(self) -> None:
        if self.verify_only is not None or self.keys is None:
            raise errors.VerifyOnlyError(
                "this installation only reads and verifies cards (CARDSERVICE_MODE=verify)")

    def _with_registry(self, files: CardFiles, report: VerificationReport,
                       registry_error: dict | None = None) -> CardView:
        """The view: ``report`` with the registry's verdicts and the lock state applied. An
        unreachable registry leaves revocation and rollback skipped (``registry_unavailable``)."""
        row = None
        if self.verify_only is not None:
            report = self.verify_only.apply(report, self.clock(), locked=files.info.locked)
        else:
            try:
                row = self.registry.get(files.serial.hex())
            except errors.RegistryUnavailableError as exc:
                registry_error = error_block(exc)
                report = report.registry_unavailable()
        if row is not None and row.status is not CardStatus.PENDING:
            eligible = (self._terms_rules.sponsor_eligible(report)
                        if report.record is not None
                        and report.record.sponsor_citizen_number is not None else None)
            report = report.with_registry(revoked=row.revoked, last_sequence=row.last_sequence,
                                          sponsor_eligible=eligible)
        if not files.info.locked:
            report = dataclasses.replace(report, status=Status.BLANK)
        elif report.status == Status.BLANK:
            report = locked_but_empty(report)
        if row is not None and report.status in (Status.BLANK, Status.UNSIGNED):
            report = damaged(report, "issued_in_registry")
        return CardView(report, files.info.locked, row, registry_error)

    def read(self, conn: CardConnection, *, photo: bool = False) -> CardView:
        """Read and verify (5 APDUs; EF.PHOTO too, one more, when ``photo``); never fails
        because of registry state (see ``registry_error``)."""
        files = read_files(conn, photo=photo)  # the chip check overlaps its last APDUs
        registry_error = None
        settled: list[tuple[int, bool]] = []
        try:
            if self.verify_only is None:
                self._reconcile_files(files, settled)
        except errors.CardServiceError as exc:
            logger.warning("card %s: pending write not reconciled: %s (%s)", files.serial.hex(),
                           exc.message, exc.code)
            registry_error = error_block(
                exc, pending_write=not isinstance(exc, errors.RegistryUnavailableError))
        view = self._county_verdict(self._with_registry(files, self._verify(files),
                                                        registry_error))
        return dataclasses.replace(view, reconciled=tuple(settled)) if settled else view

    # --- issue --------------------------------------------------------------------------

    def issue(self, conn: CardConnection, identity: Identity, request: PermitRequest, *,
              actor: str | None = None, expected_serial: bytes | None = None,
              photo: bytes | None = None, from_application: bool = False) -> CardView:
        """Personalize a blank card. The chip makes its own key pair first; its public key and
        the photo's SHA-256 (``photo``: a JPEG already checked by card_layout.photo) join the
        signed identity (format version 2). ``from_application``: a card produced for a
        certified application, registered ``produced`` (active at hand-over); a direct issue
        long-term in the holder's own right needs ``request.evidence`` (kept in the intent)."""
        self._writable()
        check_direct_issue(self.require_applications and not from_application)
        if not from_application:  # production serves every site
            self.site_area.check(request.current_residence)
        card = Rp1Card(conn)

        def run() -> CardView:
            files = card.read_all()
            check_expected(files, expected_serial)
            if (repeated := self._repeated(files, request)) is not None:
                return repeated  # only a locked card: a landed issue locks it
            if files.info.locked:
                raise errors.AlreadyPersonalizedError(
                    f"card {files.serial.hex()} is already personalized"
                )
            serial_hex = files.serial.hex()
            if self.registry.get(serial_hex) is not None:
                raise errors.AlreadyPersonalizedError(f"card {serial_hex} was issued before")
            self._terms_rules.check_born(identity)
            if not from_application:  # an application's rules decide that (replacements)
                release_expired(self.registry, self.audit, self.clock(),
                                ttl=self.reservation_ttl, serial=serial_hex,
                                citizen_number=identity.citizen_number)
                self.registry.ensure_can_issue(identity.citizen_number, serial_hex)
            terms = self._terms_rules.for_issue(request, identity.citizen_number,
                                                from_application=from_application)
            record = self._record(1, request.current_residence, terms)
            self._check_face(identity, record)
            self.registry.ensure_writable()  # a read-only registry: before the chip's key pair
            bound = self._bind_chip(card, files, identity, photo)
            id_sig = sign_identity(self.keys.signer, files.serial, bound)
            id_file = encode_identity_file(bound, id_sig)
            slot = encode_slot(record, sign_record(self.keys.signer, files.serial, id_sig, record))
            # one issue at a time (threads, and processes on this data directory) from the
            # one-person-one-card check to the reservation that then holds the citizen's place,
            # so that two readers cannot both pass the check; the card I/O stays outside, so
            # several readers personalize cards at once (production lines)
            with self._issue_lock, issue_file_lock(self._issue_lock_path):
                if not from_application:
                    self.registry.ensure_can_issue(identity.citizen_number, serial_hex)
                intent = self._journal.intent("issue", files, conn, actor, record, slot,
                                              citizen_number=identity.citizen_number,
                                              evidence=request.evidence,
                                              produced=from_application,
                                              request_id=request.request_id)
                if not from_application:  # a produced card's place is the application's
                    self._journal.reserve(intent)
            self.registry.record_identity(serial_hex, identity_fields(identity), self.clock())
            return self._commit(OpenWrite.durable(self._journal, intent), card, files,
                                lambda: self._write_issue(card, files, id_file, slot, photo),
                                card.read_all)

        self._warm_face()  # not inside the card transaction
        return conn.exclusive(run)

    def _bind_chip(self, card: Rp1Card, files: CardFiles, identity: Identity,
                   photo: bytes | None) -> Identity:
        """The identity with the chip's new public key (a card OS that has a counter has a key
        pair to make) and the photo's SHA-256."""
        chip_key = None
        if files.info.counter is not None:
            key = self.keys.card_key(KeyRef.PERSONALIZATION, files.serial)
            card.authenticate(KeyRef.PERSONALIZATION, key)
            chip_key = card.generate_key_pair()
        photo_hash = hashlib.sha256(photo).digest() if photo is not None else None
        return dataclasses.replace(identity, chip_public_key=chip_key, photo_sha256=photo_hash)

    def _write_issue(self, card: Rp1Card, files: CardFiles, id_file: bytes, slot: bytes,
                     photo: bytes | None) -> None:
        serial = files.serial
        card.authenticate(KeyRef.PERSONALIZATION, self.keys.card_key(KeyRef.PERSONALIZATION, serial))
        card.write_file(Fid.ID, id_file, old_length=len(files.identity))
        if photo is not None:
            card.write_file(Fid.PHOTO, photo)
        elif files.info.counter is not None:
            card.erase_file(Fid.PHOTO)  # no stale photo of an aborted issue stays behind
        card.authenticate(KeyRef.WRITE, self.keys.card_key(KeyRef.WRITE, serial))
        card.write_file(Fid.RES_A, slot, old_length=len(files.slot_a))
        if files.slot_b:
            card.write_file(Fid.RES_B, b"", old_length=len(files.slot_b))
        card.lock_identity()  # the commit point: before it the card reads blank

    # --- re-sign / renew ----------------------------------------------------------------

    def resign(self, conn: CardConnection, request: PermitRequest, *, actor: str | None = None,
               expected_serial: bytes | None = None) -> CardView:
        """A move: new current residence; this authority signs; dates per policy."""
        if not request.current_residence:
            raise errors.ValidationError("current_residence", "is required", "empty")
        self.site_area.check(request.current_residence)  # re-signed where they now live
        return self._rewrite(conn, request, "resign", actor, expected_serial)

    def renew(self, conn: CardConnection, request: PermitRequest, *, actor: str | None = None,
              expected_serial: bytes | None = None) -> CardView:
        """Extend the expiry or change the permit type; the residence stays."""
        request = dataclasses.replace(request, current_residence=None)
        return self._rewrite(conn, request, "renew", actor, expected_serial)

    def _rewrite(self, conn: CardConnection, request: PermitRequest, operation: str,
                 actor: str | None, expected_serial: bytes | None) -> CardView:
        self._writable()
        card = Rp1Card(conn)

        def run() -> CardView:
            files = card.read_all()
            check_expected(files, expected_serial)
            if (repeated := self._repeated(files, request)) is not None:
                return repeated
            view = self.view(files)
            current = writable_record(view)
            terms = self._terms_rules.for_rewrite(operation, request, current,
                                        view.report.identity.citizen_number)
            # above the card's own counter too: the counter counts this write, and a record
            # below it reads as a rollback
            sequence = max(current.sequence, view.registry.last_sequence if view.registry else 0,
                           files.info.counter or 0) + 1
            residence = request.current_residence or current.current_residence
            record = self._record(sequence, residence, terms)
            self._check_face(None, record)
            target = next_slot(view.report.slots)
            slot = encode_slot(record, sign_record(self.keys.signer, files.serial,
                                                   view.report.identity_signature, record))
            detail = intent_detail(record, slot, citizen_number=view.report.identity.citizen_number,
                                   slot_fid=target, evidence=request.evidence,
                                   request_id=request.request_id)
            # the intent is appended while the reservation is taken and the APDUs that write
            # nothing are sent; it is durable before UPDATE BINARY (engine/overlap.py)
            opened = open_write(self._journal, operation, files, conn.reader_name, actor, detail)
            written = replace_slot(files, target, slot)

            def write() -> None:
                card.write_file(target, slot, old_length=len(files.slot(target)))

            def read_back() -> CardFiles:
                return replace_slot(files, target, card.read_file(target))

            return self._commit(opened, card, files, write, read_back, expected=written,
                                before_write=lambda: card.authenticate(
                                    KeyRef.WRITE, self.keys.card_key(KeyRef.WRITE, files.serial)))

        self._warm_face()  # not inside the card transaction
        return conn.exclusive(run)

    def _record(self, sequence: int, residence: str, terms: PermitTerms) -> ResidenceRecord:
        return build_record(sequence, residence, terms, authority=self.keys.authority_name,
                            signed_at=self.clock())

    def _warm_face(self) -> None:
        """Load the face's layout and fonts (once per process, about a second) before the card
        is held; a failure here is reported by the check itself."""
        try:
            self.face.warm()
        except LayoutError:
            pass

    def _check_face(self, identity: Identity | None, record: ResidenceRecord) -> None:
        """Before anything is written: every field must print on its side of the card."""
        with as_service_errors():
            self.face.check(identity, record)

    def _commit(self, opened: OpenWrite, card: Rp1Card, files: CardFiles,
                write: Callable[[], None], read_back: Callable[[], CardFiles], *,
                before_write: Callable[[], None] | None = None,
                expected: CardFiles | None = None) -> CardView:
        """Re-check the serial (and run ``before_write``: APDUs that write nothing), make sure
        the intent is durable, write, read back, verify; register and audit the outcome.
        ``expected``: the files as they should read back, verified while the card works."""
        guess = in_background(self._verify, expected) if expected is not None else None
        try:
            if card.get_serial() != files.serial:
                raise errors.CardChangedError("the card was swapped since it was read; not written")
            if before_write is not None:
                before_write()
            intent = opened.intent()  # durable before the first write APDU
        except errors.CardServiceError as exc:
            self._journal.close(opened.intent(), success=False, cause=exc)
            raise
        cause: errors.CardServiceError | None = None
        try:
            write()
            after = read_back()
        except errors.CardServiceError as exc:
            logger.warning("write of intent %d interrupted (%s); reading the card", intent.id,
                           exc.code)
            after = read_or_none(card)
            if after is None:
                logger.warning("intent %d stays pending: the card cannot be read", intent.id)
                raise errors.WriteVerifyError(
                    f"the write was interrupted ({exc.code}) and the card could not be read "
                    f"back: it holds either the old or the new record; intent {intent.id} is "
                    "pending and the next read of this card settles it", intent_id=intent.id,
                ) from exc
            cause = exc
        # once (the registry part is re-applied after the update); ahead for the expected bytes
        report = guess.result() if guess is not None and after == expected else self._verify(after)
        if not landed(intent.detail, after, self._with_registry(after, report)):
            failure = cause or errors.WriteVerifyError(
                "the card did not read back the record just written")
            self._journal.close(intent, success=False, cause=failure)
            raise failure
        if cause is not None:
            logger.info("intent %d landed despite %s", intent.id, cause.code)
        try:
            self._journal.close(intent, success=True)
        except errors.RegistryUnavailableError as exc:
            raise errors.RegistryUnavailableError(
                f"the card was written and verified, but the registry could not record it "
                f"({exc.message}); intent {intent.id} stays pending: the next read of the card "
                "settles it, and the request repeated with its Idempotency-Key writes nothing "
                "again") from exc
        return self._with_registry(after, report)
