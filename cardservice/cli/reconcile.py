"""``cardservice reconcile``: registry reservations whose card write never confirmed.

A write reserves its registry row before the first card APDU and confirms it after the card read
back what was written. If the card left the reader mid-write the reservation stays; the next read
of that card (at any site) settles it. One older than ``--older-than`` minutes has expired: it is
listed here with the audit intents still pending, for an operator to put the card in a reader
(which settles it) or, once the card is known not to hold the write, ``--release SERIAL``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import click

from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.engine.views import registry_dict

#: minutes after which an unconfirmed reservation is listed as expired
RESERVATION_TTL_MINUTES = 10


@click.command("reconcile")
@click.option("--older-than", type=click.IntRange(min=0), default=RESERVATION_TTL_MINUTES,
              show_default=True, help="Minutes after which a reservation has expired.")
@click.option("--release", "release", metavar="SERIAL",
              help="Drop this card's expired reservation (its card does not hold the write).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def reconcile(svc: Service, older_than: int, release: str | None, as_json: bool) -> None:
    """List expired write reservations and pending intents; release one with --release."""
    now = utc_now()
    registry, audit = svc.registry(), svc.audit()
    if release:
        row = registry.release(release, now)
        audit.event(operation="release_reservation", card_serial=release.lower(), actor="cli",
                    detail={"site": svc.site_id}, now=now)
        click.echo(f"reservation of card {release.lower()} released"
                   + (f"; card is {row.status.value}" if row else "; pending issue removed"))
        return
    expired = registry.reservations(older_than=now - timedelta(minutes=older_than))
    pending = audit.pending()
    if as_json:
        click.echo(json.dumps({
            "expired_reservations": [registry_dict(r) for r in expired],
            "pending_intents": [{"id": e.id, "card_serial": e.card_serial,
                                 "operation": e.operation, "ts": e.ts.isoformat(),
                                 "site_id": e.site_id} for e in pending]},
            indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(expired)} expired reservation(s), {len(pending)} pending intent(s)")
    for r in expired:
        click.echo(f"  card {r.serial}  {r.status.value}  sequence {r.pending_sequence} "
                   f"reserved by {r.pending_site} at {r.pending_since.isoformat()}")
    for e in pending:
        click.echo(f"  intent {e.id}  {e.operation} card {e.card_serial}  {e.ts.isoformat()}")
