"""The daemon's settings: one pydantic-settings class, environment prefix ``CARDSERVICE_``.

Validators refuse unsafe values: a non-loopback bind address without ``allow_remote``, a
non-positive timeout, an unknown log format.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cardservice.pki.keys import default_home
from cardservice.transport.selection import ReaderSelection, check_patterns, patterns_of

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any loopback IP address (IPv4 127/8 or IPv6 ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Where the daemon keeps its data, where it listens, and its time bounds."""

    model_config = SettingsConfigDict(env_prefix="CARDSERVICE_", frozen=True, extra="forbid")

    home: Path = Field(default_factory=default_home)
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    uds: Path | None = None
    allow_remote: bool = False
    allowed_origins: list[str] = Field(default_factory=list)
    cors: bool = False
    log_format: Literal["text", "json"] = "text"
    pcsc_timeout: float = Field(default=5.0, gt=0, description="seconds per APDU (watchdog)")
    operation_timeout: float = Field(default=20.0, gt=0, description="seconds per card operation")
    read_wait: float = Field(default=2.0, ge=0, description="seconds a read waits for a busy reader")
    idempotency_ttl_hours: int = Field(default=24, gt=0)
    printer: str | None = Field(default=None, description="CUPS queue the card's face is printed "
                                "on after a verified write (CARDSERVICE_PRINTER)")
    # resource bounds (issue: nothing unbounded before authentication)
    max_body_bytes: int = Field(default=64 * 1024, gt=0, description="request body cap")
    max_photo_body_bytes: int = Field(default=1024 * 1024, gt=0,
                                      description="body cap of routes whose path names a photo")
    header_timeout: float = Field(default=10.0, gt=0, description="seconds for a request head")
    body_timeout: float = Field(default=30.0, gt=0, description="seconds for a request body")
    max_connections: int = Field(default=256, gt=0, description="open HTTP + WebSocket connections")
    max_subscribers: int = Field(default=64, gt=0, description="event subscribers in all")
    max_subscribers_per_token: int = Field(default=8, gt=0, description="per client token")
    write_wait: float = Field(default=5.0, ge=0,
                              description="seconds a write queues behind running reads")
    database_url: str | None = Field(default=None, description="postgresql://...; unset: SQLite")
    site_id: str | None = Field(default=None, description="this site (required with PostgreSQL)")
    #: "verify": read and verify cards only; every write and application route -> FORBIDDEN
    mode: Literal["full", "verify"] = "full"
    console_idle_minutes: int = Field(default=15, gt=0, description="console session idle timeout")
    reservation_ttl_minutes: float = Field(
        default=10.0, gt=0, description="a write reservation neither confirmed nor released "
        "expires after this (engine/expiry.py)")
    reservation_sweep_seconds: float = Field(
        default=60.0, gt=0, description="how often the daemon releases expired reservations")
    readers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="reader names or shell-style patterns this daemon "
        "lists, watches and connects to (JSON list); empty: every reader")
    require_applications: bool | None = Field(
        default=None, description="refuse direct issues (application_required); default: "
        "true with a PostgreSQL database, else false")
    site_area: str | None = Field(
        default=None, description="the address prefixes of the area this acceptance point "
        "serves, comma-separated: applications, direct issues and moves whose residence is "
        "elsewhere are refused (residence_outside_site_area); unset: no check")

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_plain(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(f"allowed origin {origin!r} must be an explicit http(s) origin")
        return [o.rstrip("/") for o in origins]

    @field_validator("readers", mode="before")
    @classmethod
    def _reader_patterns(cls, value: object) -> list[str]:
        """The environment's JSON list (CARDSERVICE_READERS), or a list given in code."""
        if isinstance(value, str):
            return list(patterns_of(value))
        return list(check_patterns(value if isinstance(value, list | tuple) else [value]))

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> Settings:
        if not self.allow_remote and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not a loopback address; pass --allow-remote to bind it"
            )
        if self.pcsc_timeout >= self.operation_timeout:
            raise ValueError("pcsc_timeout must be shorter than operation_timeout")
        return self

    @property
    def applications_required(self) -> bool:
        """Whether a direct card issue is refused: set explicitly, or by the database kind."""
        if self.require_applications is not None:
            return self.require_applications
        url = str(getattr(self, "database_url", None) or "")
        return url.startswith(("postgres://", "postgresql://", "postgresql+"))

    @property
    def reader_selection(self) -> ReaderSelection:
        return ReaderSelection(tuple(self.readers))

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """``Host`` header values the daemon answers (loopback names with its port)."""
        names = ["127.0.0.1", "localhost", "[::1]"]
        if self.allow_remote and not is_loopback(self.host):
            names.append(self.host)
        hosts = {f"{name}:{self.port}" for name in names}
        if self.uds is not None:  # clients of a Unix socket send a bare name
            hosts.update(names)
        return frozenset(hosts)
