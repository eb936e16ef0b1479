"""``cardservice db``: schema migrations of the stores (SQLite data directory or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import click

from cardservice.cli.output import echo_json
from cardservice.engine.service import Service


@click.group("db")
def db() -> None:
    """The database: schema status and upgrades (CARDSERVICE_DATABASE_URL, else SQLite)."""


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(svc: Service, as_json: bool) -> None:
    """Each component's schema version and the version this software needs (exit 1 if any is
    not current)."""
    items = [{"component": s.component, "version": s.current, "needed": s.latest,
              "state": s.state} for s in svc.stores.status()]
    if as_json:
        echo_json({"database": svc.stores.describe(), "site_id": svc.site_id,
                   "components": items})
    else:
        click.echo(f"database: {svc.stores.describe()}  (site {svc.site_id})")
        for item in items:
            click.echo(f"  {item['component']:<14} version {item['version']}"
                       f" (needs {item['needed']})  {item['state']}")
    if any(item["state"] != "current" for item in items):
        raise SystemExit(1)


@db.command("upgrade")
@click.pass_obj
def upgrade(svc: Service) -> None:
    """Apply the missing schema steps, each in its own transaction (safe to run again)."""
    applied = svc.stores.upgrade()
    click.echo(f"database: {svc.stores.describe()}")
    for component, versions in applied.items():
        what = ", ".join(str(v) for v in versions) if versions else "already current"
        click.echo(f"  {component:<14} {what}")


@db.command("import")
@click.option("--from", "source", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The SQLite data directory to copy (registry.db, audit.db).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def import_(svc: Service, source: Path, as_json: bool) -> None:
    """Copy a single-PC data directory's registry and audit chain into the county PostgreSQL
    database under this site (CARDSERVICE_SITE_ID); conflicts are listed, never merged."""
    from cardservice.engine.operations import utc_now
    from cardservice.store.importer import import_home

    report = import_home(svc.stores.registry(), svc.stores.audit(), source, utc_now())
    if as_json:
        echo_json(report.__dict__)
    else:
        click.echo(f"site {report.site_id}: {report.cards} card(s), {report.audit_entries} "
                   f"audit entries imported, {len(report.conflicts)} conflict(s)")
        for c in report.conflicts:
            click.echo(f"  conflict: card {c['card_serial']} citizen {c['citizen_number']}: "
                       f"{c['reason']}")
    if report.conflicts:
        raise SystemExit(3)
