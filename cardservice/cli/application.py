"""`cardservice application ...`: applications at the acceptance point and the county centre,
on the same data directory (or county database) as the daemon."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from card_layout.errors import FieldError
from card_layout.identity import Identity
from cardservice import errors
from cardservice.cli.output import echo_json, emit, holder_options, json_opt
from cardservice.engine.policy import Evidence
from cardservice.engine.service import Service
from cardservice.workflow.model import Application, Family, Kind, Replacement, Residence
from cardservice.workflow.service import Actor, ApplicationService
from cardservice.workflow.wiring import open_applications


def _receipt_pdf(app: Application, service: ApplicationService) -> bytes:
    # imported here: the PDF and QR libraries cost every other command's start
    from cardservice.workflow.receipt import render_receipt

    return render_receipt(app, face=service.face)  # the data directory's card face


def _svc(svc: Service) -> ApplicationService:
    return open_applications(svc)


def _actor(svc: Service) -> Actor:
    return Actor(f"cli:{getpass.getuser()}", svc.site_id)


def _emit(app: Application, service: ApplicationService, as_json: bool) -> None:
    emit(service.view(app), as_json, _print)


def _print(a: dict[str, Any]) -> None:
    serial = f"  card {a['card_serial']}" if a["card_serial"] else ""
    late = "  OVERDUE" if a.get("overdue") else ""
    click.echo(f"{a['id']}  {a['kind']:<11} {a['status']:<11} due {a['due_on']}{late}{serial}")
    click.echo(f"  {a['identity']['name']}  {a['identity']['citizen_number']}  "
               f"site {a['site']}  {a['residence']['permit_type']}")
    if a.get("unsettled_write"):
        write = a["unsettled_write"]
        click.echo(f"  waiting for a read of card {write['card_serial']}: its production write "
                   f"of {write['since']} has no outcome yet")


@click.group()
def application() -> None:
    """Applications: submit, audit, certify, hand over, cancel, receipts."""


@application.command("submit")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), default="first_issue",
              show_default=True)
@holder_options
@click.option("--basis", type=click.IntRange(1, 5))
@click.option("--evidence", nargs=2, metavar="KIND REFERENCE", default=None,
              help="Basis evidence, e.g. --evidence lease_contract HT-2026-0042.")
@click.option("--sponsor", help="family: the sponsor's citizen number.")
@click.option("--relationship", type=click.Choice(["spouse", "child", "parent"]))
@click.option("--replaces", help="replacement: the old card's serial.")
@click.option("--reason", type=click.Choice(["lost", "damaged"]), help="replacement: why.")
@click.option("--receipt", "receipt_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the receipt PDF here.")
@json_opt
@click.pass_obj
def submit(svc: Service, kind, name, gender, nationality, citizen_number, household_address,
           residence, permit_type, basis, evidence, sponsor, relationship, replaces, reason,
           receipt_out, as_json) -> None:
    """Take an application at this acceptance point; prints its number and due date."""
    try:
        i = Identity.create(name=name, gender=gender, nationality=nationality,
                            citizen_number=citizen_number, household_address=household_address)
    except FieldError as exc:
        raise errors.ValidationError(exc.field, exc.message, exc.reason) from exc
    identity = {"name": i.name, "gender": i.gender.label, "nationality": i.nationality,
                "citizen_number": i.citizen_number, "household_address": i.household_address}
    draft = Application(
        id="", kind=Kind(kind), identity=identity,
        residence=Residence(residence, permit_type, basis), site="",
        submitted_at=svc.clock(), submitted_by="", due_on=svc.clock().date(),
        evidence=Evidence(*evidence) if evidence else None,
        family=Family(sponsor, relationship or "") if sponsor else None,
        replacement=Replacement(replaces.lower(), reason or "") if replaces else None)
    service = _svc(svc)
    app = service.submit(draft, _actor(svc))
    if receipt_out is not None:
        receipt_out.write_bytes(_receipt_pdf(app, service))
    _emit(app, service, as_json)


@application.command("list")
@click.option("--status")
@click.option("--site")
@click.option("--citizen-number")
@click.option("--overdue", is_flag=True, help="Only open applications past their due date.")
@json_opt
@click.pass_obj
def list_(svc: Service, status, site, citizen_number, overdue, as_json) -> None:
    """Applications in due-date order."""
    service = _svc(svc)
    found = service.find(status=status, site=site, citizen_number=citizen_number,
                         overdue=overdue)
    if as_json:
        echo_json(service.views(found))
        return
    for shown in service.views(found):
        _print(shown)
    if not found:
        click.echo("no applications")


@application.command("show")
@click.argument("app_id")
@json_opt
@click.pass_obj
def show(svc: Service, app_id: str, as_json: bool) -> None:
    """One application with its decisions."""
    service = _svc(svc)
    app = service.get(app_id)
    _emit(app, service, as_json)
    if not as_json:
        for d in app.decisions:
            why = f"  ({d.reason})" if d.reason else ""
            click.echo(f"  {d.at.isoformat(timespec='seconds')}  {d.action:<16} {d.actor} "
                       f"@ {d.site}{why}")


def _decision(stage: str):
    @click.argument("app_id")
    @click.option("--reject", "reject_reason", metavar="REASON", help="Reject, with a reason.")
    @json_opt
    @click.pass_obj
    def command(svc: Service, app_id: str, reject_reason: str | None, as_json: bool) -> None:
        service = _svc(svc)
        app = service.decide(app_id, stage, reject_reason is None, reject_reason, _actor(svc))
        _emit(app, service, as_json)

    command.__doc__ = {"audit": "Audit at the acceptance point: approve (or --reject REASON).",
                       "certify": "Certify at the county centre: approve (or --reject REASON)."
                       }[stage]
    return command


application.command("audit")(_decision("audit"))
application.command("certify")(_decision("certify"))


@application.command("hand-over")
@click.argument("app_id")
@click.option("--card-serial", help="The card's serial (default: read the card in --reader).")
@click.option("--reader", default=None, help="Reader name (default: the only one with a card).")
@json_opt
@click.pass_obj
def hand_over(svc: Service, app_id: str, card_serial: str | None, reader: str | None,
              as_json: bool) -> None:
    """Give the produced card to the holder: it must be this application's card (read from
    the reader, it must also verify and hold the application's holder)."""
    card = None
    if card_serial is None:
        with svc.connect(reader) as conn:
            card = svc.engine.read(conn, photo=True)  # EF.PHOTO checked against its hash
        card_serial = card.serial.hex()
    service = _svc(svc)
    _emit(service.hand_over(app_id, card_serial, _actor(svc), card=card), service, as_json)


@application.command("cancel")
@click.argument("app_id")
@click.option("--reason")
@json_opt
@click.pass_obj
def cancel(svc: Service, app_id: str, reason: str | None, as_json: bool) -> None:
    """Cancel an application that has no card yet."""
    service = _svc(svc)
    _emit(service.cancel(app_id, reason, _actor(svc)), service, as_json)


@application.command("receipt")
@click.argument("app_id")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def receipt(svc: Service, app_id: str, out: Path) -> None:
    """Write the holder's receipt (PDF, A5)."""
    service = _svc(svc)
    out.write_bytes(_receipt_pdf(service.get(app_id), service))
    click.echo(f"receipt for {app_id} written to {out}")
