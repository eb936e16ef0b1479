"""``cardservice reconcile``: registry reservations whose card write never confirmed.

A write reserves its registry row before the first card APDU and confirms it after the card read
back what was written. If the card left the reader mid-write the reservation stays; the next read
of that card (at any site) settles it. One older than ``--older-than`` minutes has expired: the
daemon's sweep and the next write touching the same card or citizen release it (audited,
engine/expiry.py). This lists the reservations still pending, the expired ones not released yet
and the audit intents still pending; ``--release-expired`` releases the expired ones now and
``--release SERIAL`` one reservation (once its card is known not to hold the write).
"""

from __future__ import annotations

import json
from datetime import timedelta

import click

from cardservice.engine.expiry import RELEASE_OPERATION, RESERVATION_TTL, release_detail
from cardservice.engine.expiry import release_expired as release_expired_now
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.engine.views import registry_dict

#: minutes after which an unconfirmed reservation is listed as expired
RESERVATION_TTL_MINUTES = int(RESERVATION_TTL.total_seconds() // 60)


@click.command("reconcile")
@click.option("--older-than", type=click.IntRange(min=0), default=RESERVATION_TTL_MINUTES,
              show_default=True, help="Minutes after which a reservation has expired.")
@click.option("--release", "release", metavar="SERIAL",
              help="Drop this card's expired reservation (its card does not hold the write).")
@click.option("--release-expired", is_flag=True,
              help="Release every expired reservation now (the daemon does it every minute).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def reconcile(svc: Service, older_than: int, release: str | None, release_expired: bool,
              as_json: bool) -> None:
    """List pending and expired write reservations and pending intents; release them."""
    now = utc_now()
    registry, audit = svc.registry(), svc.audit()
    if release:
        before = registry.get(release)
        row = registry.release(release, now)
        detail = ({"site": svc.site_id} if before is None or before.pending_since is None
                  else release_detail(before, svc.site_id, "operator"))
        audit.event(operation=RELEASE_OPERATION, card_serial=release.lower(), actor="cli",
                    detail=detail, now=now)
        click.echo(f"reservation of card {release.lower()} released"
                   + (f"; card is {row.status.value}" if row else "; pending issue removed"))
        return
    ttl = timedelta(minutes=older_than)
    if release_expired:
        released = release_expired_now(registry, audit, now, ttl=ttl, actor="cli")
        click.echo(f"{len(released)} expired reservation(s) released")
    reserved = registry.reservations()
    expired = [r for r in reserved if r.pending_since < now - ttl]
    waiting = [r for r in reserved if r.pending_since >= now - ttl]
    pending = audit.pending()
    if as_json:
        click.echo(json.dumps({
            "expired_reservations": [registry_dict(r) for r in expired],
            "pending_reservations": [registry_dict(r) for r in waiting],
            "pending_intents": [{"id": e.id, "card_serial": e.card_serial,
                                 "operation": e.operation, "ts": e.ts.isoformat(),
                                 "site_id": e.site_id} for e in pending]},
            indent=2, ensure_ascii=False))
        return
    click.echo(f"{len(expired)} expired reservation(s), {len(waiting)} pending reservation(s), "
               f"{len(pending)} pending intent(s)")
    for label, rows in (("expired", expired), ("pending", waiting)):
        for r in rows:
            click.echo(f"  {label} card {r.serial}  {r.status.value}  sequence "
                       f"{r.pending_sequence} reserved by {r.pending_site} at "
                       f"{r.pending_since.isoformat()}")
    for e in pending:
        click.echo(f"  intent {e.id}  {e.operation} card {e.card_serial}  {e.ts.isoformat()}")
