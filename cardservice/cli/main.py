"""The technician CLI: ``cardservice`` (works without the daemon)."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.photo import validate_photo
from card_layout.record import PermitType
from cardservice import __version__, errors
from cardservice.cli.confirm import confirm_card
from cardservice.cli.face import card_face, card_print, print_after_write
from cardservice.cli.pairing import pairing
from cardservice.cli.user import user as user_group
from cardservice.engine.operations import PermitRequest, utc_now
from cardservice.engine.policy import Evidence
from cardservice.engine.service import Service
from cardservice.engine.views import card_dict, registry_dict
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
EXIT_CONFLICT = 4
#: Verdicts of ``card read`` that exit with EXIT_CONFLICT (README: invalid or revoked card).
EXIT_CONFLICT_STATUSES = frozenset({"invalid", "revoked", "rollback"})
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


def _emit(obj: dict[str, Any], as_json: bool, human) -> None:
    if as_json:
        click.echo(json.dumps(obj, ensure_ascii=False, indent=2))
    else:
        human(obj)


def _print_card(card: dict[str, Any]) -> None:
    v = card["verification"]
    click.echo(f"Card {card['card_serial']}  {card['state']}  status: {v['status'].upper()}")
    rows: list[tuple[str, Any]] = []
    if card["identity"]:
        i = card["identity"]
        rows += [("Name", i["name"]), ("Gender", i["gender"]),
                 ("Nationality", f"{i['nationality']} ({i['nationality_code']})"),
                 ("Citizen number", i["citizen_number"]), ("Birth date", i["birth_date"]),
                 ("Household address", i["household_address"])]
    if card["residence"]:
        r = card["residence"]
        basis = r["basis"] if r["basis"] is not None else "-"
        rows += [("Current residence", r["current_residence"]),
                 ("Issuing authority", r["issuing_authority"]),
                 ("Permit", f"{r['permit_type']} (basis {basis})"),
                 ("Valid", f"{r['issued_on']} .. {r['expires_on']}"),
                 ("Issue count", r["sequence"])]
        if r["sponsor_citizen_number"]:
            rows.append(("Sponsor", r["sponsor_citizen_number"]))
    if card["registry"]:
        rows.append(("Registry", card["registry"]["status"]))
    for label, value in rows:
        click.echo(f"  {label:<18} {value}")
    for c in v["checks"]:
        mark = {"succeeded": "ok", "failed": "FAILED", "not_checked": "-",
                "warning": "WARNING"}[c["result"]]
        click.echo(f"  check {c['check']:<19} {mark:<7} {c['reason']}")


def _applications_required() -> bool:
    """CARDSERVICE_REQUIRE_APPLICATIONS (or the database kind), as the daemon reads it."""
    from cardservice.config import Settings

    try:
        return Settings().applications_required
    except ValueError as exc:  # another CARDSERVICE_ variable is unusable: say which
        raise click.UsageError(f"settings: {exc}") from exc


def _permit_type(value: str | None) -> PermitType | None:
    return PermitType(value) if value else None


def _request(residence, permit_type, basis, sponsor, expires) -> PermitRequest:
    return PermitRequest(
        current_residence=residence, permit_type=_permit_type(permit_type), basis=basis,
        sponsor_citizen_number=sponsor, expires_on=expires.date() if expires else None,
    )


reader_opt = click.option("--reader", "reader", default=None, help="Reader name (default: the only one with a card).")
json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
permit_type_opt = click.option("--permit-type", type=click.Choice(["temporary", "long_term"]))
basis_opt = click.option("--basis", type=click.IntRange(1, 5), help="Long-term basis 1-5.")
expires_opt = click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
serial_opt = click.option("--card-serial", default=None,
                          help="Write only if the card has this serial (16 hex digits).")
yes_opt = click.option("--yes", is_flag=True, help="Do not ask before writing.")


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
    ctx.obj = Service.open(home, require_applications=_applications_required())


@cli.command()
@json_opt
@click.pass_obj
def readers(svc: Service, as_json: bool) -> None:
    """List the readers and whether each holds a card."""
    infos = svc.driver.readers()
    items = [{"name": i.name, "card_present": i.card_present,
              "atr_hex": i.atr.hex() if i.atr else None} for i in infos]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no readers")
    for i in items:
        click.echo(f"{i['name']}  {'card' if i['card_present'] else 'empty'}"
                   + (f"  ATR {i['atr_hex']}" if i["atr_hex"] else ""))


@cli.group()
def card() -> None:
    """Card operations."""


card.add_command(card_face)
card.add_command(card_print)


@card.command("read")
@reader_opt
@click.option("--photo", "photo_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also read the holder's photo and write it (JPEG) to this file.")
@json_opt
@click.pass_obj
def card_read(svc: Service, reader: str | None, photo_out: Path | None, as_json: bool) -> None:
    """Read and verify the card."""
    with svc.connect(reader) as conn:
        view = svc.engine.read(conn, photo=photo_out is not None)
    if photo_out is not None and view.report.photo is not None:
        photo_out.write_bytes(view.report.photo)
    elif photo_out is not None:
        click.echo("no photo bound to this card's identity; nothing written", err=True)
    _emit(card_dict(view), as_json, _print_card)
    if view.report.status.value in EXIT_CONFLICT_STATUSES:
        sys.exit(EXIT_CONFLICT)  # the card was read, and it is not one to accept


@card.command("issue")
@reader_opt
@click.option("--name", required=True)
@click.option("--gender", required=True, type=click.Choice(["male", "female"]))
@click.option("--nationality", required=True, help='Code or name, e.g. "01" or "汉".')
@click.option("--citizen-number", required=True)
@click.option("--household-address", required=True)
@click.option("--residence", required=True)
@click.option("--permit-type", required=True, type=click.Choice(["temporary", "long_term"]))
@basis_opt
@click.option("--sponsor", help="Citizen number of the family-member sponsor.")
@expires_opt
@click.option("--photo", "photo_in", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The holder's photo: a JPEG of at most 4096 bytes.")
@serial_opt
@yes_opt
@json_opt
@click.pass_obj
def card_issue(svc: Service, reader, name, gender, nationality, citizen_number,
               household_address, residence, permit_type, basis, sponsor, expires,
               photo_in, card_serial, yes, as_json) -> None:
    """Personalize a blank card."""
    photo = _read_photo(photo_in)
    try:
        identity = Identity.create(name=name, gender=gender, nationality=nationality,
                                   citizen_number=citizen_number,
                                   household_address=household_address,
                                   today=svc.engine.today())
    except FieldError as exc:
        raise errors.ValidationError(exc.field, exc.message, exc.reason) from exc
    request = _request(residence, permit_type, basis, sponsor, expires)
    with svc.connect(reader) as conn:
        serial = confirm_card(svc, conn, card_serial, yes)
        view = svc.engine.issue(conn, identity, request, actor="cli", expected_serial=serial,
                                photo=photo)
    _emit(card_dict(view), as_json, _print_card)
    print_after_write(svc, card_dict(view), "issue", photo=photo)


def _read_photo(path: Path | None) -> bytes | None:
    if path is None:
        return None
    data = path.read_bytes()
    try:
        validate_photo(data)
    except FieldError as exc:
        raise errors.ValidationError("photo", exc.message, exc.reason) from exc
    return data


@card.command("resign")
@reader_opt
@click.option("--residence", required=True, help="The new current residence.")
@permit_type_opt
@basis_opt
@expires_opt
@click.option("--extend", is_flag=True, help="Also renew (new expiry); else the expiry stays.")
@click.option("--evidence", "evidence", nargs=2, default=None, metavar="KIND REFERENCE",
              help="New basis evidence, e.g. --evidence lease_contract HT-2026-0042.")
@serial_opt
@yes_opt
@json_opt
@click.pass_obj
def card_resign(svc: Service, reader, residence, permit_type, basis, expires, extend, evidence,
                card_serial, yes, as_json) -> None:
    """Re-sign after a move: new residence, this authority; the expiry stays (--extend)."""
    request = dataclasses.replace(_request(residence, permit_type, basis, None, expires),
                                  extend=extend, evidence=Evidence(*evidence) if evidence else None)
    with svc.connect(reader) as conn:
        serial = confirm_card(svc, conn, card_serial, yes)
        view = svc.engine.resign(conn, request, actor="cli", expected_serial=serial)
    _emit(card_dict(view), as_json, _print_card)
    print_after_write(svc, card_dict(view), "resign")


@card.command("renew")
@reader_opt
@permit_type_opt
@basis_opt
@expires_opt
@serial_opt
@yes_opt
@json_opt
@click.pass_obj
def card_renew(svc: Service, reader, permit_type, basis, expires, card_serial, yes,
               as_json) -> None:
    """Extend the expiry or change the permit type."""
    request = _request(None, permit_type, basis, None, expires)
    with svc.connect(reader) as conn:
        serial = confirm_card(svc, conn, card_serial, yes)
        view = svc.engine.renew(conn, request, actor="cli", expected_serial=serial)
    _emit(card_dict(view), as_json, _print_card)
    print_after_write(svc, card_dict(view), "renew")


@card.command("revoke")
@click.argument("serial")
@click.option("--reason", required=True, type=click.Choice(["lost", "replaced", "withdrawn"]))
@json_opt
@click.pass_obj
def card_revoke(svc: Service, serial: str, reason: str, as_json: bool) -> None:
    """Revoke a card in the registry (lost, replaced or withdrawn)."""
    row = svc.engine.revoke(serial, reason, actor="cli")
    _emit(registry_dict(row), as_json,
          lambda r: click.echo(f"Card {r['card_serial']} is now {r['status']}"))


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
    log = svc.audit()
    result = log.verify(full=full)
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

    _emit(out, as_json, human)
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


@cli.group()
def token() -> None:
    """Client tokens for the daemon (stored hashed in the data directory)."""


def _tokens(svc: Service):

    svc.home.ensure()
    return svc.stores.tokens()


@token.command("create")
@click.option("--name", required=True, help="The client app's name.")
@click.option("--role", required=True, type=click.Choice(["reader", "operator", "admin"]))
@click.pass_obj
def token_create(svc: Service, name: str, role: str) -> None:
    """Create a token; it is printed once and cannot be shown again."""
    secret, info = _tokens(svc).create(name, role, utc_now())
    click.echo(secret)
    click.echo(f"token {info.id} for {info.name!r} (role {info.role.value}); "
               "store it now, it is not shown again", err=True)


@token.command("list")
@json_opt
@click.pass_obj
def token_list(svc: Service, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    items = [{"id": t.id, "name": t.name, "role": t.role.value,
              "created_at": t.created_at.isoformat(),
              "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
             for t in _tokens(svc).list()]
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for t in items:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        click.echo(f"{t['id']}  {t['name']:<24} {t['role']:<8} {state}")


@token.command("revoke")
@click.argument("name_or_id")
@click.pass_obj
def token_revoke(svc: Service, name_or_id: str) -> None:
    """Revoke a token by name or id."""
    info = _tokens(svc).revoke(name_or_id, utc_now())
    click.echo(f"token {info.id} ({info.name}) revoked")


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
