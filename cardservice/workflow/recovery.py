"""What an interrupted production run leaves, settled by the next run before it takes any
application (:class:`~cardservice.workflow.production.ProductionRun` calls these first).

A run stopped by Ctrl-C or SIGTERM finishes the card in hand; a run killed outright (SIGKILL, a
power cut) can leave, for the application it was producing:

- a card still in its reader, written or not, with the write's audit intent pending: the next
  run reads every card it finds in its readers first (:func:`settle_card`), which settles the
  intent from what the card holds. A card whose write landed is registered ``produced`` (and
  linked by :func:`recover`); a card that reads blank stays in for the next application (its
  chip makes a new key pair at the next issue); any other personalized card is ejected, never
  written again;
- a card registered ``produced`` but not yet linked to its application: :func:`recover` links
  it (a second card is never made for that citizen);
- a pending write whose card is no longer in any reader (taken out before the run was
  resumed): nobody can tell yet whether that card holds the write, so its application is held
  out of the run (claimed by it and released at its end), and the run names the card. Reading
  that card anywhere (``cardservice card read``, the daemon, or a reader of the next run)
  settles it: linked if it holds the write, otherwise the application is produced again;
- the run's claims on certified applications: released, once the run is known to be gone.
  A claim names its run, host and process (:func:`claim_owner`) and carries a lease its run
  renews every :data:`CLAIM_RENEW_S` seconds; the claims of a process of this host that no
  longer runs are released, those of a live process (another run going on now, on this
  database) are left alone, and another host's are released once their lease is older than
  :data:`CLAIM_LEASE` (that PC's run died, or lost the database for that long).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cardservice.engine.operations import Engine
from cardservice.store.registry import CardStatus
from cardservice.transport import CardConnection
from cardservice.workflow.codec import from_row
from cardservice.workflow.service import Actor, ApplicationService

logger = logging.getLogger(__name__)

#: a claim of another PC's run not renewed for this long belongs to a run that is gone
CLAIM_LEASE = timedelta(minutes=5)
#: how often a run renews the lease of its claims
CLAIM_RENEW_S = 60.0


@dataclass
class Recovery:
    """What :func:`recover` did: ``linked`` (application id, card serial) pairs, and ``held``
    application ids, each with the serial of the card whose pending write must be read first."""

    linked: list[tuple[str, str]] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)


def settle_card(engine: Engine, conn: CardConnection) -> str | None:
    """Read the card in ``conn`` (which settles its pending writes); its serial if it is
    personalized (to be ejected), None if it is blank (usable)."""
    view = engine.read(conn)
    if not view.personalized:
        return None
    return view.serial.hex()


def claim_owner(run_id: str) -> str:
    """What a run writes into its claims: ``run-id@host:pid``."""
    return f"{run_id}@{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str, renewed: datetime | None, now: datetime) -> bool:
    """True if the run that holds claims as ``owner`` no longer runs: its process on this host
    has ended, or (a run on another PC) it has not renewed its claims for :data:`CLAIM_LEASE`
    (a claim of an older form, naming no process or without a lease, counts as gone)."""
    _run, _, where = owner.partition("@")
    host, _, pid = where.rpartition(":")
    if not where or not pid.isdigit():
        return True
    if host != socket.gethostname():
        return renewed is None or now - renewed > CLAIM_LEASE
    if int(pid) == os.getpid():
        return False  # this process: its runs release their own claims when they end
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(service: ApplicationService, actor: Actor, owner: str | None = None) -> Recovery:
    """Link produced cards to their certified applications, hold the applications whose card
    write is still unsettled (claimed by ``owner``), release the claims of runs that are gone."""
    done = Recovery()
    now = service.clock()
    for other, renewed in service.store.claim_leases().items():
        if _gone(other, renewed, now):
            released = service.store.release_claims(owner=other)
            logger.warning("released %d claim(s) of run %s, which is gone", released, other)
    unsettled = {citizen: write.card_serial
                 for citizen, write in service.unsettled_writes().items()}
    for row in service.store.find(status="certified"):
        app = from_row(row)
        card = next((c for c in service.registry.find_by_citizen(app.citizen_number)
                     if c.status is CardStatus.PRODUCED
                     and service.store.by_card(c.serial) is None), None)
        if card is not None:
            service.mark_produced(app, card.serial, actor)
            done.linked.append((app.id, card.serial))
            logger.info("recovered: card %s linked to application %s", card.serial, app.id)
        elif app.citizen_number in unsettled and owner is not None:
            serial = unsettled[app.citizen_number]
            if service.store.claim(app.id, owner, now):
                done.held[app.id] = serial
                logger.warning("application %s held: the write of card %s is unsettled; read "
                               "that card to settle it", app.id, serial)
    return done
