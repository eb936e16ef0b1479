"""``cardservice user``: clerk accounts for the web console (add, list, disable,
reset-password). Passwords are asked twice on the terminal, or read from ``--password-file``."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from cardservice.cli.output import emit_list, json_opt
from cardservice.engine.operations import utc_now
from cardservice.engine.service import Service
from cardservice.roles import Role
from cardservice.store.users import UserStore

logger = logging.getLogger(__name__)

password_file_opt = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from the first line of this file instead of asking.")


def _store(svc: Service) -> UserStore:
    svc.home.ensure()
    return svc.stores.users()


def _password(password_file: Path | None) -> str:
    """The new password, checked; its scrypt hash is made by the caller."""
    # imported here: the console package loads the web app, which no other command needs
    from cardservice.console.passwords import check_password

    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return check_password(lines[0] if lines else "")
    return check_password(click.prompt("Password", hide_input=True,
                                       confirmation_prompt="Repeat the password"))


def _hashed(password: str) -> str:
    from cardservice.console.passwords import hash_password

    return hash_password(password)


@click.group()
def user() -> None:
    """Clerk accounts for the web console (/console/)."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@password_file_opt
@click.pass_obj
def user_add(svc: Service, name: str, role: str, password_file: Path | None) -> None:
    """Create a clerk account NAME with a role."""
    store = _store(svc)
    info = store.add(name, role, _hashed(_password(password_file)), utc_now())
    click.echo(f"clerk {info.name!r} added (role {info.role.value}); log in at /console/")


@user.command("list")
@json_opt
@click.pass_obj
def user_list(svc: Service, as_json: bool) -> None:
    """List clerk accounts (never their passwords)."""
    items = [{"name": u.name, "role": u.role.value, "created_at": u.created_at.isoformat(),
              "password_at": u.password_at.isoformat(),
              "disabled_at": u.disabled_at.isoformat() if u.disabled_at else None}
             for u in _store(svc).list()]
    emit_list(items, as_json, _user_line)


def _user_line(u: dict) -> str:
    state = f"disabled {u['disabled_at']}" if u["disabled_at"] else "active"
    return f"{u['name']:<24} {u['role']:<10} {state}"


@user.command("disable")
@click.argument("name")
@click.pass_obj
def user_disable(svc: Service, name: str) -> None:
    """Disable an account and end its sessions."""
    _store(svc).disable(name, utc_now())
    click.echo(f"clerk {name!r} disabled")


@user.command("reset-password")
@click.argument("name")
@password_file_opt
@click.pass_obj
def user_reset_password(svc: Service, name: str, password_file: Path | None) -> None:
    """Set a new password (re-enables the account; ends its sessions and lockout)."""
    _store(svc).set_password(name, _hashed(_password(password_file)), utc_now())
    click.echo(f"clerk {name!r}: password set")
