"""How CLI commands print (JSON with ``--json``, else lines for a person) and the exit code of a
conflict."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

#: A card or log that was read and is not one to accept, or a write refused by the card's state
#: (README: exit codes).
EXIT_CONFLICT = 4

json_opt = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def holder_options(command: Callable) -> Callable:
    """The holder's identity, residence and permit type (card issue, application submit)."""
    for option in reversed((
        click.option("--name", required=True),
        click.option("--gender", required=True, type=click.Choice(["male", "female"])),
        click.option("--nationality", required=True, help='Code or name, e.g. "01" or "汉".'),
        click.option("--citizen-number", required=True),
        click.option("--household-address", required=True),
        click.option("--residence", required=True),
        click.option("--permit-type", required=True,
                     type=click.Choice(["temporary", "long_term"])),
    )):
        command = option(command)
    return command


def echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def emit(obj: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    """``obj`` as JSON, or told by ``human``."""
    if as_json:
        echo_json(obj)
    else:
        human(obj)


def emit_list(items: list[dict[str, Any]], as_json: bool, line: Callable[[dict[str, Any]], str],
              *, empty: str | None = None) -> None:
    """A list as a JSON array, or one ``line`` per item (``empty`` when there is none)."""
    if as_json:
        echo_json(items)
        return
    if not items and empty is not None:
        click.echo(empty)
    for item in items:
        click.echo(line(item))
