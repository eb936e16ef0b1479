"""``cardservice token``: the daemon's client tokens (stored hashed in the data directory)."""

from __future__ import annotations

import click

from cardservice.cli.output import emit_list, json_opt
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.store.tokens import TokenStore


@click.group()
def token() -> None:
    """Client tokens for the daemon (stored hashed in the data directory)."""


def _tokens(svc: Service) -> TokenStore:
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
    emit_list(items, as_json, _token_line)


def _token_line(t: dict) -> str:
    state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
    return f"{t['id']}  {t['name']:<24} {t['role']:<8} {state}"


@token.command("revoke")
@click.argument("name_or_id")
@click.pass_obj
def token_revoke(svc: Service, name_or_id: str) -> None:
    """Revoke a token by name or id."""
    info = _tokens(svc).revoke(name_or_id, utc_now())
    click.echo(f"token {info.id} ({info.name}) revoked")
