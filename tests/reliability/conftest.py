"""Fixtures of the reliability suite: the engine's demo keys and clock, the API's in-process
daemon over simulated readers (both reused from their own folders), and helpers that compare a
card, the registry and the audit log before and after a fault."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from simulator.card import VirtualCard
from tests.api.conftest import backend, daemon, home, key_template  # noqa: F401 - fixtures
from tests.engine.conftest import clock  # noqa: F401 - fixtures


@dataclass(frozen=True)
class Snapshot:
    """What a write could change: the card's memory, the registry and the audit outcomes."""

    card_sha256: str
    registry_rows: int
    audit_entries: int
    audit_successes: int


def card_digest(card: VirtualCard) -> str:
    """A hash of the card's whole non-volatile state (files, lengths, lock, try counters)."""
    image = card.image
    h = hashlib.sha256(image.serial)
    for fid in sorted(image.files):
        ef = image.files[fid]
        h.update(fid.to_bytes(2, "big") + ef.length.to_bytes(2, "big") + bytes(ef.memory))
    h.update(bytes([image.locked]) + bytes(sorted(image.tries.values())))
    return h.hexdigest()


def snapshot(card: VirtualCard, registry: Registry, audit: AuditLog) -> Snapshot:
    entries = audit.entries(limit=10_000)
    successes = sum(1 for e in entries if e.outcome and e.outcome.endswith("success"))
    return Snapshot(card_digest(card), registry.count(), len(entries), successes)
