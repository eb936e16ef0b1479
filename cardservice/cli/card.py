"""``cardservice card``: read, issue, re-sign, renew and revoke a card (and its face)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import click

from card_layout.errors import FieldError
from card_layout.identity import Identity
from card_layout.photo import validate_photo
from card_layout.record import PermitType
from cardservice import errors
from cardservice.cli.confirm import confirm_card
from cardservice.cli.face import card_face, card_print, print_after_write
from cardservice.cli.output import EXIT_CONFLICT, emit, holder_options, json_opt
from cardservice.engine.operations import PermitRequest
from cardservice.engine.policy import Evidence
from cardservice.engine.service import Service
from cardservice.engine.views import card_dict, registry_dict

#: Verdicts of ``card read`` that exit with EXIT_CONFLICT (README: invalid or revoked card).
EXIT_CONFLICT_STATUSES = frozenset({"invalid", "revoked", "rollback"})

reader_opt = click.option("--reader", "reader", default=None, help="Reader name (default: the only one with a card).")
permit_type_opt = click.option("--permit-type", type=click.Choice(["temporary", "long_term"]))
basis_opt = click.option("--basis", type=click.IntRange(1, 5), help="Long-term basis 1-5.")
expires_opt = click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
serial_opt = click.option("--card-serial", default=None,
                          help="Write only if the card has this serial (16 hex digits).")
yes_opt = click.option("--yes", is_flag=True, help="Do not ask before writing.")




@click.group()
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
    emit(card_dict(view), as_json, print_card)
    if view.report.status.value in EXIT_CONFLICT_STATUSES:
        sys.exit(EXIT_CONFLICT)  # the card was read, and it is not one to accept


@card.command("issue")
@reader_opt
@holder_options
@basis_opt
@click.option("--sponsor", help="Citizen number of the family-member sponsor.")
@expires_opt
@click.option("--evidence", "evidence", nargs=2, default=None, metavar="KIND REFERENCE",
              help="Basis evidence for a long-term permit in the holder's own right, "
                   "e.g. --evidence lease_contract HT-2026-0042.")
@click.option("--photo", "photo_in", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The holder's photo: a JPEG of at most 4096 bytes.")
@serial_opt
@yes_opt
@json_opt
@click.pass_obj
def card_issue(svc: Service, reader, name, gender, nationality, citizen_number,
               household_address, residence, permit_type, basis, sponsor, expires,
               evidence, photo_in, card_serial, yes, as_json) -> None:
    """Personalize a blank card (long-term in the holder's own right needs --evidence)."""
    photo = _read_photo(photo_in)
    try:
        identity = Identity.create(name=name, gender=gender, nationality=nationality,
                                   citizen_number=citizen_number,
                                   household_address=household_address,
                                   today=svc.engine.today())
    except FieldError as exc:
        raise errors.ValidationError(exc.field, exc.message, exc.reason) from exc
    request = dataclasses.replace(_request(residence, permit_type, basis, sponsor, expires),
                                  evidence=Evidence(*evidence) if evidence else None)
    with svc.connect(reader) as conn:
        serial = confirm_card(svc, conn, card_serial, yes)
        view = svc.engine.issue(conn, identity, request, actor="cli", expected_serial=serial,
                                photo=photo)
    emit(card_dict(view), as_json, print_card)
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
    _rewrite(svc, "resign", request, reader, card_serial, yes, as_json)


@card.command("renew")
@reader_opt
@permit_type_opt
@basis_opt
@expires_opt
@click.option("--evidence", "evidence", nargs=2, default=None, metavar="KIND REFERENCE",
              help="Basis evidence for a change to long-term or to another basis, "
                   "e.g. --evidence business_licence 91650000MA0000000X.")
@serial_opt
@yes_opt
@json_opt
@click.pass_obj
def card_renew(svc: Service, reader, permit_type, basis, expires, evidence, card_serial, yes,
               as_json) -> None:
    """Extend the expiry or change the permit type (a new long-term basis needs --evidence)."""
    request = dataclasses.replace(_request(None, permit_type, basis, None, expires),
                                  evidence=Evidence(*evidence) if evidence else None)
    _rewrite(svc, "renew", request, reader, card_serial, yes, as_json)


def _rewrite(svc: Service, operation: str, request: PermitRequest, reader: str | None,
             card_serial: str | None, yes: bool, as_json: bool) -> None:
    """Re-sign or renew the confirmed card; show it and print its face if set up to."""
    write = svc.engine.resign if operation == "resign" else svc.engine.renew
    with svc.connect(reader) as conn:
        serial = confirm_card(svc, conn, card_serial, yes)
        view = write(conn, request, actor="cli", expected_serial=serial)
    emit(card_dict(view), as_json, print_card)
    print_after_write(svc, card_dict(view), operation)


@card.command("revoke")
@click.argument("serial")
@click.option("--reason", required=True, type=click.Choice(["lost", "replaced", "withdrawn"]))
@json_opt
@click.pass_obj
def card_revoke(svc: Service, serial: str, reason: str, as_json: bool) -> None:
    """Revoke a card in the registry (lost, replaced or withdrawn)."""
    row = svc.engine.revoke(serial, reason, actor="cli")
    emit(registry_dict(row), as_json,
          lambda r: click.echo(f"Card {r['card_serial']} is now {r['status']}"))


def print_card(card: dict[str, Any]) -> None:
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


def _permit_type(value: str | None) -> PermitType | None:
    return PermitType(value) if value else None


def _request(residence, permit_type, basis, sponsor, expires) -> PermitRequest:
    return PermitRequest(
        current_residence=residence, permit_type=_permit_type(permit_type), basis=basis,
        sponsor_citizen_number=sponsor, expires_on=expires.date() if expires else None,
    )
