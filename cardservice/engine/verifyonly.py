"""Verify-only installations (``CARDSERVICE_MODE=verify``) for service departments.

Such an installation holds no signing or card keys. It trusts what the county's signed bundle
brings (roots, authority certificates, CRLs; ``cardservice trust import``) and takes a card's
revocation from the bundle's revoked serials instead of a registry. When the installed bundle is
older than its ``max_age`` (or none is installed), a card that would read ``valid`` reads
``revocation_stale``: its revocation state is not known to be current. A bundle built from the
county registry lists every card issued (:mod:`cardservice.pki.issued`): a signed card missing
from it reads ``invalid`` with revocation ``not_registered``, as at a site on the county registry,
unless its record was signed too late for the bundle to know it (:func:`_not_issued`). Every write is refused with FORBIDDEN
(:class:`cardservice.errors.VerifyOnlyError`).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cardservice.engine.model import unregistered
from cardservice.engine.report import Check, CheckResult, Result, Status, VerificationReport
from cardservice.errors import CardServiceError
from cardservice.pki import bundle as bundles
from cardservice.pki.keys import DataDir
from cardservice.pki.trust import TrustStore

logger = logging.getLogger(__name__)

REVOCATION_STALE = "revocation_stale"
NO_BUNDLE = "no_bundle"
#: how far a signing site's clock may be off: a card registered after the bundle was built was
#: signed (seconds before its row was made) after it, but its ``signed_at`` may read earlier by
#: the site clock's lag; a record signed later than the bundle less this, and not later than
#: now plus this, is not judged by the list
CLOCK_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class BundleState:
    """The installed bundle as the reads see it (``GET /v1/health``, the console)."""

    issued_at: datetime | None  # None: no bundle is installed (or it no longer verifies)
    stale: bool  # older than its max_age, or none: a card that would read valid reads stale
    revoked_cards: int
    issued_cards: int | None  # None: the bundle carries no list of issued cards
    message: str | None = None  # no_bundle, or the error code of a bundle that fails


class VerifyOnly:
    """The bundle and trust store of a verify-only installation, reloaded when they change."""

    def __init__(self, home: DataDir) -> None:
        self.home = home
        self._stamp: tuple[float, ...] | None = None
        self._trust = TrustStore([], [])
        self._bundle: bundles.Bundle | None = None

    def _files(self) -> list[Path]:
        trust = sorted(self.home.trust_dir.glob("*")) if self.home.trust_dir.is_dir() else []
        return [*trust, self.home.root / bundles.BUNDLE_FILE]

    def _refresh(self, now: datetime) -> None:
        stamp = tuple(p.stat().st_mtime_ns if p.exists() else 0.0 for p in self._files())
        if stamp == self._stamp:
            return
        self._trust = TrustStore.load(self.home.trust_dir) if self.home.trust_dir.is_dir() \
            else TrustStore([], [])
        self._bundle = bundles.installed(self.home, now)
        self._stamp = stamp

    def trust(self, now: datetime) -> TrustStore:
        self._refresh(now)
        return self._trust

    def bundle(self, now: datetime) -> bundles.Bundle | None:
        self._refresh(now)
        return self._bundle

    def state(self, now: datetime) -> BundleState:
        try:
            bundle = self.bundle(now)
        except CardServiceError as exc:
            return BundleState(None, True, 0, None, exc.code)
        if bundle is None:
            return BundleState(None, True, 0, None, NO_BUNDLE)
        return BundleState(bundle.issued_at, bundle.stale(now), len(bundle.revoked_cards),
                           None if bundle.issued is None else len(bundle.issued))

    def apply(self, report: VerificationReport, now: datetime, *,
              locked: bool = True) -> VerificationReport:
        """``report`` with REVOCATION from the bundle (``not_registered`` for a personalized
        card its issued cards do not hold), and ``revocation_stale`` when it is old."""
        current = self.bundle(now)
        if current is None:
            return _stale(report, NO_BUNDLE)
        report = report.with_registry(revoked=report.serial.hex() in current.revoked_cards,
                                      last_sequence=None)
        if locked and _not_issued(report, current, now):
            return unregistered(report)
        if current.stale(now) and report.check(Check.REVOCATION).result is Result.SUCCEEDED:
            return _stale(report, REVOCATION_STALE)
        return report


def _not_issued(report: VerificationReport, bundle: bundles.Bundle, now: datetime) -> bool:
    """A signed card the bundle's issued cards do not hold, unless its record was signed too
    late for the bundle to know it: after the bundle was built (less the signing clocks'
    grace) and not after now (plus that grace). A record with no signing time, or dated in the
    future, cannot claim to be newer than the bundle."""
    if bundle.issued is None or report.identity is None \
            or report.status not in (Status.VALID, Status.EXPIRED):
        return False
    if bundle.issued.holds(report.serial, report.identity.citizen_number):
        return False
    signed_at = report.record.signed_at if report.record is not None else None
    return signed_at is None or not (bundle.issued_at - CLOCK_GRACE < signed_at
                                      <= now + CLOCK_GRACE)


def _stale(report: VerificationReport, reason: str) -> VerificationReport:
    checks = tuple(CheckResult(Check.REVOCATION, Result.NOT_CHECKED, reason)
                   if c.check == Check.REVOCATION else c for c in report.checks)
    status = Status.REVOCATION_STALE if report.status == Status.VALID else report.status
    return dataclasses.replace(report, checks=checks, status=status)
