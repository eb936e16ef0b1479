"""The engine's operations that touch the registry and the audit log but no card: the daemon's
sweep of expired write reservations, and revocation."""

from __future__ import annotations

from datetime import timedelta

from cardservice import errors
from cardservice.engine.expiry import release_expired
from cardservice.engine.model import Clock
from cardservice.store.audit import AuditLog
from cardservice.store.registry import CardRow, Registry

REVOKE_REASONS = ("lost", "replaced", "withdrawn")


class RegistryOperations:
    """Mixed into :class:`cardservice.engine.operations.Engine`, which provides these
    attributes and ``_writable`` (refuses writes in a verify-only installation)."""

    registry: Registry
    audit: AuditLog
    clock: Clock
    reservation_ttl: timedelta
    verify_only: object | None

    def release_expired(self, *, actor: str = "system") -> list[CardRow]:
        """Release every expired write reservation, each audited (the daemon's sweep)."""
        if self.verify_only is not None:
            return []
        return release_expired(self.registry, self.audit, self.clock(), ttl=self.reservation_ttl,
                               actor=actor)

    def revoke(self, serial_hex: str, reason: str, *, actor: str | None = None) -> CardRow:
        self._writable()
        if reason not in REVOKE_REASONS:
            raise errors.ValidationError("reason", "must be lost, replaced or withdrawn", "bad_value")
        now = self.clock()
        row = self.registry.revoke(serial_hex.lower(), reason, now)
        self.audit.event(operation="revoke", card_serial=row.serial, actor=actor,
                         detail={"reason": reason}, now=now)
        return row
