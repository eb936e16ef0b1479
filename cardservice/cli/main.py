"""The technician CLI: ``cardservice`` (works without the daemon)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from cardservice import __version__, errors
from cardservice.cli.card import card
from cardservice.cli.output import EXIT_CONFLICT, emit, emit_list, json_opt
from cardservice.cli.pairing import pairing
from cardservice.cli.token import token
from cardservice.cli.user import user as user_group
from cardservice.engine.area import SiteArea
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.pki.keys import init_demo

logger = logging.getLogger(__name__)

#: Exit codes by error family (documented in the README).
EXIT_CODES: dict[type[errors.CardServiceError], int] = {
    errors.ValidationError: 3,
    errors.PolicyError: 3,
    errors.TransportError: 5,
    errors.CardProtocolError: 5,
    errors.PrintError: 6,
}
EXIT_OTHER = 1


def _exit_code(exc: errors.CardServiceError) -> int:
    for cls, code in EXIT_CODES.items():
        if isinstance(exc, cls):
            return code
    if isinstance(exc, (errors.CardChangedError, errors.AlreadyPersonalizedError,
                        errors.CitizenHasCardError, errors.NotPersonalizedError,
                        errors.CardInvalidError, errors.CardRevokedError,
                        errors.ApplicationStateError, errors.ApplicationOpenError)):
        return EXIT_CONFLICT
    return EXIT_OTHER


def _settings():
    """The ``CARDSERVICE_`` settings as the daemon reads them (the CLI uses the application
    rule and the reader selection from them)."""
    from cardservice.config import Settings

    try:
        return Settings()
    except ValueError as exc:  # a CARDSERVICE_ variable is unusable: say which
        raise click.UsageError(f"settings: {exc}") from exc


@click.group()
@click.version_option(__version__)
@click.option("--home", type=click.Path(path_type=Path), envvar="CARDSERVICE_HOME",
              help="Data directory (default: platform data dir; env CARDSERVICE_HOME).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: APDU traffic).")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, verbose: int) -> None:
    """Read, personalize and re-sign RP1 residence-permit cards."""
    from cardservice.logs import setup_logging

    setup_logging(verbose)
    settings = _settings()
    ctx.obj = Service.open(home, require_applications=settings.applications_required,
                           readers=settings.reader_selection,
                           site_area=SiteArea.parse(settings.site_area))


@cli.command()
@json_opt
@click.pass_obj
def readers(svc: Service, as_json: bool) -> None:
    """List the readers and whether each holds a card."""
    infos = svc.driver.readers()
    items = [{"name": i.name, "card_present": i.card_present,
              "atr_hex": i.atr.hex() if i.atr else None} for i in infos]
    emit_list(items, as_json, _reader_line, empty="no readers")
    if svc.readers.patterns:  # say why a reader pcscd has may be missing (on stderr: --json)
        click.echo(f"only readers matching CARDSERVICE_READERS: {', '.join(svc.readers.patterns)}",
                   err=True)


def _reader_line(i: dict[str, Any]) -> str:
    return (f"{i['name']}  {'card' if i['card_present'] else 'empty'}"
            + (f"  ATR {i['atr_hex']}" if i["atr_hex"] else ""))


@cli.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--full", is_flag=True, help="PostgreSQL: check every chain from its first entry "
              "(default: from each chain's last verified checkpoint on).")
@json_opt
@click.pass_obj
def audit_verify(svc: Service, full: bool, as_json: bool) -> None:
    """Walk the hash chain; report the first broken entry and pending intents."""
    from cardservice.engine.audit_check import verify_log  # only this command needs it

    log = svc.audit()
    result = verify_log(svc, log, full=full)
    pending = [e.id for e in log.pending()]
    out = {"ok": result.ok, "entries": result.entries, "first_broken_id": result.first_broken_id,
           "reason": result.reason, "pending_intents": pending, "site": result.site,
           "sites": result.sites, "full": result.full, "checked_from": result.checked_from}

    def human(o: dict[str, Any]) -> None:
        chains = f" in {len(o['sites'])} site chains" if o["sites"] is not None else ""
        since = "" if o["full"] else " (checked from each chain's last checkpoint; --full: all)"
        if o["ok"]:
            click.echo(f"audit log OK: {o['entries']} entries{chains}, chain intact{since}")
        else:
            where = f" of site {o['site']}" if o["site"] else ""
            click.echo(f"audit log BROKEN at entry {o['first_broken_id']}{where}: {o['reason']}")
        if o["pending_intents"]:
            click.echo(f"unresolved intents: {', '.join(map(str, o['pending_intents']))}")

    emit(out, as_json, human)
    if not result.ok:
        sys.exit(EXIT_CONFLICT)


@cli.group()
def keys() -> None:
    """Signing keys and card master keys."""


@keys.command("init")
@click.option("--demo", is_flag=True, required=True,
              help="Create a demo county root, authority and the simulator's dev master keys.")
@click.option("--force", is_flag=True, help="Replace existing keys.")
@click.option("--pkcs11", is_flag=True,
              help="Make the keys inside the PKCS#11 token named by CARDSERVICE_PKCS11_*.")
@click.pass_obj
def keys_init(svc: Service, demo: bool, force: bool, pkcs11: bool) -> None:
    """Create demo keys in the data directory (or in the token, with --pkcs11)."""
    from cardservice.pki.pkcs11 import require_config
    from simulator.devkeys import load_dev_master_keys

    token = require_config() if pkcs11 else None
    created = init_demo(svc.home, now=utc_now(), masters=load_dev_master_keys(), force=force,
                        token=token)
    click.echo(f"issuing authority: {created.authority_name}")
    click.echo(f"key id: {created.signer.key_id.hex()}")
    click.echo(f"keys: {'PKCS#11 token ' + repr(token.token) if token else 'files'}")
    click.echo(f"data directory: {svc.home.root}")


# --- the daemon and its client tokens ----------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="Bind address (default 127.0.0.1; env CARDSERVICE_HOST).")
@click.option("--port", type=int, default=None, help="TCP port (default 8765).")
@click.option("--uds", type=click.Path(path_type=Path), default=None,
              help="Listen on this Unix socket instead of TCP (owner-only).")
@click.option("--allow-remote", is_flag=True, default=False,
              help="Allow a non-loopback --host (the API then leaves this machine).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None)
@click.pass_context
def serve(ctx: click.Context, host, port, uds, allow_remote, log_format) -> None:
    """Run the localhost HTTP/WebSocket API."""
    import pydantic

    from cardservice.api.server import serve as run_server
    from cardservice.config import Settings
    from cardservice.logs import setup_logging

    svc: Service = ctx.obj
    given = {"home": svc.home.root, "host": host, "port": port, "uds": uds,
                 "allow_remote": allow_remote or None, "log_format": log_format}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise errors.ValidationError(field, first["msg"], "setting") from exc
    setup_logging(max(ctx.find_root().params.get("verbose") or 0, 1), settings.log_format)
    run_server(settings)


cli.add_command(card)
cli.add_command(token)
from cardservice.cli.db import db as _db_group

cli.add_command(_db_group)
from cardservice.cli.reconcile import reconcile as _reconcile

cli.add_command(_reconcile)
cli.add_command(user_group)  # clerk accounts of the web console

from cardservice.cli.county import county, site, trust  # county PKI (docs/pki.md)

for _group in (county, site, trust):
    cli.add_command(_group)
cli.add_command(pairing)

from cardservice.cli.application import application as _application_group
from cardservice.cli.produce import produce as _produce_command

cli.add_command(_application_group)
cli.add_command(_produce_command)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="cardservice", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_OTHER)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except errors.CardServiceError as exc:
        click.echo(f"error {exc.code}: {exc.message}", err=True)
        sys.exit(_exit_code(exc))
    except KeyboardInterrupt:
        sys.exit(130)
