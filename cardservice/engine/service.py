"""Wiring: open the data directory, keys and the stores (SQLite in the data directory, or the
county PostgreSQL database) into an :class:`Engine`, and pick a reader. Used by the CLI and
the daemon."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cardservice import errors
from cardservice.engine.area import ANYWHERE, SiteArea
from cardservice.engine.expiry import RESERVATION_TTL
from cardservice.engine.journal import REQUEST_WINDOW
from cardservice.engine.operations import Clock, Engine, utc_now
from cardservice.engine.verifyonly import VerifyOnly
from cardservice.face import Face
from cardservice.pki.keys import DataDir, default_home, load_keys
from cardservice.store.registry import Registry
from cardservice.store.stores import Stores
from cardservice.transport.selection import EVERY_READER, ReaderSelection, selection_from_env

logger = logging.getLogger(__name__)


ENV_MODE = "CARDSERVICE_MODE"
MODES = ("full", "verify")
ENV_RESERVATION_TTL = "CARDSERVICE_RESERVATION_TTL_MINUTES"


def reservation_ttl_from_env() -> timedelta:
    """``CARDSERVICE_RESERVATION_TTL_MINUTES`` (the CLI's; the daemon's comes from its settings),
    or :data:`RESERVATION_TTL`."""
    raw = os.environ.get(ENV_RESERVATION_TTL)
    if not raw:
        return RESERVATION_TTL
    try:
        minutes = float(raw)
    except ValueError:
        minutes = 0.0
    if not minutes > 0:
        raise errors.ValidationError("reservation_ttl_minutes",
                                     f"{ENV_RESERVATION_TTL} must be a positive number of "
                                     "minutes", "bad_value")
    return timedelta(minutes=minutes)


def mode_from_env() -> str:
    mode = os.environ.get(ENV_MODE) or "full"
    if mode not in MODES:
        raise errors.ValidationError("mode", f"{ENV_MODE} must be full or verify", "bad_value")
    return mode


@dataclass
class Service:
    home: DataDir
    clock: Clock = utc_now
    pcsc_timeout: float = 5.0
    stores: Stores | None = None
    #: "full" (sign and write) or "verify" (read and verify only; CARDSERVICE_MODE)
    mode: str = "full"
    require_applications: bool = False
    #: the area this acceptance point serves (CARDSERVICE_SITE_AREA); empty: any residence
    site_area: SiteArea = ANYWHERE
    #: when an unconfirmed write reservation expires (CARDSERVICE_RESERVATION_TTL_MINUTES)
    reservation_ttl: timedelta = RESERVATION_TTL
    #: how long a card write's request_id names one request (the daemon's Idempotency-Key
    #: retention, CARDSERVICE_IDEMPOTENCY_TTL_HOURS)
    request_window: timedelta = REQUEST_WINDOW
    #: the readers it lists and connects to (CARDSERVICE_READERS); default: every reader
    readers: ReaderSelection = EVERY_READER
    _engine: Engine | None = field(default=None, init=False)
    _driver: object | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.stores is None:  # CARDSERVICE_DATABASE_URL / CARDSERVICE_SITE_ID, or SQLite
            self.stores = Stores.from_env(self.home.root)

    @classmethod
    def open(cls, home: Path | None = None, **kw) -> Service:
        if kw.get("mode") is None:
            kw["mode"] = mode_from_env()
        if kw.get("reservation_ttl") is None:
            kw["reservation_ttl"] = reservation_ttl_from_env()
        if kw.get("readers") is None:
            kw["readers"] = selection_from_env()
        return cls(DataDir(home or default_home()), **kw)

    @property
    def site_id(self) -> str:
        return self.stores.site_id

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._make_engine()
            self._engine.reservation_ttl = self.reservation_ttl
            self._engine.request_window = self.request_window
        return self._engine

    def _make_engine(self) -> Engine:
        if self.mode == "verify":
            return Engine(None, self.registry(), self.audit(), clock=self.clock,
                          verify_only=VerifyOnly(self.home), face=Face(home=self.home.root))
        keys = load_keys(self.home)
        return Engine(keys, self.registry(), self.audit(), clock=self.clock,
                      issue_lock_path=self.home.root / "issue.lock", face=Face(home=self.home.root),
                      require_applications=self.require_applications,
                      site_area=self.site_area)

    def registry(self) -> Registry:
        if self._engine is not None:
            return self._engine.registry
        self.home.ensure()
        return self.stores.registry()

    def audit(self):
        """The audit log (SQLite: AuditLog; PostgreSQL: PgAuditLog, one chain per site)."""
        if self._engine is not None:
            return self._engine.audit
        self.home.ensure()
        return self.stores.audit()

    @property
    def driver(self):
        if self._driver is None:
            from cardservice.transport.pcsc import (
                PcscDriver,  # the only pyscard import, loaded on first use
            )

            self._driver = PcscDriver(timeout=self.pcsc_timeout, selection=self.readers)
        return self._driver

    def choose_reader(self, name: str | None) -> str:
        """The named reader, or the only reader holding a card."""
        infos = self.driver.readers()
        if not infos:
            raise errors.NoReaderError("no smart-card reader is connected")
        names = [i.name for i in infos]
        if name is not None:
            if name in names:
                return name
            raise errors.ReaderNotFoundError(f"no reader named {name!r}; readers: {', '.join(names)}")
        with_card = [i.name for i in infos if i.card_present]
        if len(with_card) == 1:
            return with_card[0]
        if not with_card:
            raise errors.NoCardError(f"no reader holds a card; readers: {', '.join(names)}")
        raise errors.AmbiguousReaderError(
            f"several readers hold a card; pass --reader: {', '.join(with_card)}"
        )

    def connect(self, name: str | None):
        """A connection to the reader; the keys are loaded first, so a missing key or a token
        that refuses its PIN fails before any reader or card is touched."""
        self.engine  # noqa: B018
        return self.driver.connect(self.choose_reader(name))
