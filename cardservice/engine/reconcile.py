"""Settling a card's pending writes from what it holds now (at a read, before a write, at
start-up or insertion), and recognising a request repeated after its write landed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

from cardservice.card.protocol import CardFiles, Rp1Card
from cardservice.engine.journal import Journal, landed
from cardservice.engine.model import CardView, PermitRequest
from cardservice.engine.report import VerificationReport
from cardservice.transport import CardConnection


class Reconciliation:
    """Mixed into :class:`cardservice.engine.operations.Engine`, which provides these."""

    _journal: Journal
    verify_only: object | None
    clock: Callable[[], datetime]
    request_window: timedelta
    view: Callable[[CardFiles], CardView]
    _verify: Callable[[CardFiles], VerificationReport]
    _with_registry: Callable[..., CardView]

    def _repeated(self, files: CardFiles, request: PermitRequest) -> CardView | None:
        """The card's pending writes settled first (a write never goes over one the registry
        has not taken yet, and a landed one is audited as landed); then, for a request whose
        ``request_id`` already wrote this card, the card as it is: nothing is written again."""
        settled: list[tuple[int, bool]] = []
        self._reconcile_files(files, settled)
        if request.request_id is None or not self._journal.landed_request(
                files.serial.hex(), request.request_id, self.clock() - self.request_window):
            return None
        return dataclasses.replace(self.view(files), reconciled=tuple(settled), repeated=True)

    def _reconcile_files(self, files: CardFiles,
                         settled: list[tuple[int, bool]] | None = None) -> list[int]:
        """Resolve pending intents for this card from what it holds now (each with whether it
        landed appended to ``settled``)."""
        resolved = []
        pending = self._journal.pending(files.serial.hex())
        report = self._verify(files) if pending else None
        for intent in pending:
            landed_now = landed(intent.detail, files, self._with_registry(files, report))
            self._journal.close(intent, success=landed_now, reconciled=True)
            resolved.append(intent.id)
            if settled is not None:
                settled.append((intent.id, landed_now))
        return resolved

    def reconcile(self, conn: CardConnection) -> list[int]:
        """Resolve pending intents for the card in ``conn`` (at start-up / card insertion)."""
        if self.verify_only is not None:
            return []
        files = conn.exclusive(Rp1Card(conn).read_all)
        return self._reconcile_files(files)
