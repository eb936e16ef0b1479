"""`cardsim`: make, show and serve virtual RP1 cards, and inject faults into a served card."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

from card_layout.errors import FieldError
from card_layout.files import SERIAL_LEN, Fid
from card_layout.photo import validate_photo

from .card import VirtualCard
from .clone import readable_copy
from .control import ControlServer, control_path, send_control
from .devkeys import load_dev_master_keys
from .image import CardImage, ImageError
from .show import describe
from .timing import PROFILES, profile
from .vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdBridge

logger = logging.getLogger(__name__)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log card events to stderr.")
def main(verbose: bool) -> None:
    """Virtual RP1 cards for tests and demos."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")


@main.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--serial", help=f"Card serial, {SERIAL_LEN} bytes hex (random if omitted).")
@click.option("--force", is_flag=True, help="Overwrite an existing image.")
@click.option("--photo", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Pre-load this JPEG (<= 4096 bytes) into EF.PHOTO. Only the issue binds a "
                   "photo: it rewrites EF.PHOTO with the intake's photo, or erases it.")
def new(image: Path, serial: str | None, force: bool, photo: Path | None) -> None:
    """Create a blank card (EF.CARD set, keys diversified from the dev master keys)."""
    if image.exists() and not force:
        _fail(f"{image} exists (use --force to overwrite)")
    try:
        raw = bytes.fromhex(serial) if serial else os.urandom(SERIAL_LEN)
        card = CardImage.blank(raw, load_dev_master_keys(), image)
        if photo is not None:
            data = photo.read_bytes()
            validate_photo(data)
            card.files[Fid.PHOTO].memory[:len(data)] = data
            card.files[Fid.PHOTO].length = len(data)
        card.save()
    except FieldError as exc:
        _fail(f"bad photo: {exc.message}")
    except (ValueError, ImageError) as exc:
        _fail(f"bad serial: {exc}")
    except OSError as exc:
        _fail(f"cannot write {image}: {exc.strerror}")
    click.echo(f"new card {card.serial.hex().upper()} in {image}")


@main.command("copy")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing image.")
def copy_card(source: Path, target: Path, force: bool) -> None:
    """Make the copy a card copier could make: every readable byte (same serial, files, lock
    state, counter) in a new chip with its own keys. It reads invalid (chip_authentic)."""
    if target.exists() and not force:
        _fail(f"{target} exists (use --force to overwrite)")
    try:
        copy = readable_copy(CardImage.load(source), target)
        copy.save()
    except ImageError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror}")
    click.echo(f"copy of card {copy.serial.hex().upper()} in {target}")


@main.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
def show(image: Path) -> None:
    """Print the card's files, data lengths, lock state and try counters."""
    try:
        click.echo(describe(CardImage.load(image)))
    except ImageError as exc:
        _fail(str(exc))


@main.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="vpcd port of pcscd.")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--feeder", type=click.Path(file_okay=False, path_type=Path),
              help="Feed a stack of blank cards from this folder instead of IMAGE.")
@click.option("--count", type=click.IntRange(1), default=None,
              help="Cards in the feeder stack (created blank if missing).")
@click.option("--seed", type=int, default=None, help="Repeatable serials for a new stack.")
@click.option("--timing", type=click.Choice(list(PROFILES)), default="instant", show_default=True,
              help="Answer as a real card would at this profile's bit rate (docs/simulator.md).")
def serve(image: Path | None, port: int, host: str, feeder: Path | None, count: int | None,
          seed: int | None, timing: str) -> None:
    """Insert the card into pcscd's virtual reader until stopped (SIGTERM / Ctrl-C).

    With --feeder DIR --count N: insert the next blank card of the stack each time the previous
    one is taken out (ejected after personalization)."""
    if feeder is not None:
        if count is None or image is not None:
            _fail("--feeder needs --count N and no IMAGE")
        _serve_feeder(feeder, count, seed, host, port, timing)
        return
    if image is None:
        _fail("name an IMAGE or use --feeder DIR --count N")
    try:
        card = VirtualCard(image, timing=profile(timing))
    except ImageError as exc:
        _fail(str(exc))
    bridge = VpcdBridge(card, host, port).start()
    click.echo(f"serving {card.image.serial.hex().upper()} on {host}:{port} "
               f"({bridge.reader_name}); control: {control_path(image)}", err=True)
    _run_until_stopped(bridge, control_path(image))
    click.echo("card removed", err=True)


def _serve_feeder(folder: Path, count: int, seed: int | None, host: str, port: int,
                  timing: str) -> None:
    from .feeder import FeederBridge, prepare_stack

    def taken(card: VirtualCard, done: int) -> None:
        click.echo(f"taken {card.image.serial.hex().upper()} ({done} of {count})", err=True)

    bridge = FeederBridge(prepare_stack(folder, count, seed), host, port, on_taken=taken,
                          timing=profile(timing))
    click.echo(f"feeder: {bridge.remaining} blank of {count} cards in {folder} into "
               f"{host}:{port} ({bridge.reader_name})", err=True)
    bridge.start()
    _run_until_stopped(bridge, folder / "feeder.ctl")
    click.echo(f"feeder stopped: {len(bridge.taken)} cards taken out", err=True)


def _run_until_stopped(bridge: VpcdBridge, ctl: Path) -> None:
    try:
        control = ControlServer(bridge, ctl).start()
    except OSError as exc:
        bridge.stop()
        _fail(f"cannot open control socket {ctl}: {exc.strerror}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    control.close()
    bridge.stop()


@main.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("command", nargs=-1, required=True)
def ctl(image: Path, command: tuple[str, ...]) -> None:
    """Control a served card: remove | insert | cut-after N | cut-in-update K [NTH] |
    mute [AFTER] | unmute | sw XXXX [INS] [TIMES] | clear | status."""
    try:
        answer = send_control(control_path(image), " ".join(command))
    except OSError as exc:
        _fail(f"no card served from {image} ({exc.strerror or exc})")
    click.echo(answer)
    if not answer.startswith("ok"):
        sys.exit(1)
