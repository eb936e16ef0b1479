"""``cardservice pairing list|approve``: a clerk decides the pairing requests of client apps
(on the data directory, like the other commands; the daemon need not run)."""

from __future__ import annotations

import click

from cardservice.cli.output import emit_list, json_opt
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.pairing import PairingService
from cardservice.store.pairing import PairingStore


def _service(svc: Service) -> PairingService:
    svc.home.ensure()
    return PairingService(PairingStore(svc.stores.database("pairing")), svc.stores.tokens(),
                          svc.audit, utc_now)


@click.group()
def pairing() -> None:
    """Approve or deny client apps that ask for a token."""


@pairing.command("list")
@json_opt
@click.pass_obj
def pairing_list(svc: Service, as_json: bool) -> None:
    """The requests that wait for a decision (each expires 5 minutes after it was made)."""
    items = [{"code": r.code, "app_name": r.app_name, "created_at": r.created_at.isoformat(),
              "expires_at": r.expires_at.isoformat()} for r in _service(svc).pending()]
    emit_list(items, as_json, _request_line, empty="no pending pairing requests")


def _request_line(r: dict) -> str:
    return f"{r['code']}  {r['app_name']:<32} expires {r['expires_at']}"


@pairing.command("approve")
@click.argument("code")
@click.option("--role", required=True, type=click.Choice(["reader", "operator", "deny"]),
              help="The role the app's token gets, or deny to refuse the request.")
@click.pass_obj
def pairing_approve(svc: Service, code: str, role: str) -> None:
    """Approve the request showing CODE (compare it with the app's screen first)."""
    service = _service(svc)
    if role == "deny":
        req = service.deny(code, actor="cli")
        click.echo(f"{req.code} ({req.app_name}) denied")
        return
    req = service.approve(code, role, actor="cli")
    click.echo(f"{req.code} ({req.app_name}) approved as {role}; the app collects its token "
               f"on its next poll (until {req.expires_at.isoformat(timespec='seconds')})")
