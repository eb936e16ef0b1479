"""`cardservice produce`: personalize the certified applications' cards on several readers at
once, with a progress bar; Ctrl-C or SIGTERM stops after the cards in hand (resume by running
it again)."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
import threading

import click

from cardservice import errors
from cardservice.engine.service import Service
from cardservice.workflow.printing import face_printer
from cardservice.workflow.production import DirectAccess, ProductionRun, Progress
from cardservice.workflow.service import Actor
from cardservice.workflow.wiring import open_applications

BAR = 30


def progress_line(p: Progress) -> str:
    """``[#####-----] 12/20 done, 1 failed, 7 left, 2.3 cards/s, ETA 3 s``"""
    total = max(p.total, 1)
    filled = round(BAR * (p.done + p.failed) / total)
    eta = "-" if p.eta is None else f"{p.eta:.0f} s"
    return (f"[{'#' * filled}{'-' * (BAR - filled)}] {p.done}/{p.total} done, {p.failed} failed, "
            f"{p.left} left, {p.rate:.2f} cards/s, ETA {eta}")


@click.command()
@click.option("--readers", "readers", multiple=True, metavar="NAME",
              help='A reader to produce on (repeat it), or "all" (default).')
@click.option("--limit", type=click.IntRange(1), help="Produce at most N cards.")
@click.option("--card-wait", type=float, default=30.0, show_default=True,
              help="Seconds a reader may stay without a new card before its worker ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's result as JSON.")
@click.pass_obj
def produce(svc: Service, readers: tuple[str, ...], limit: int | None, card_wait: float,
            as_json: bool) -> None:
    """Produce cards for certified applications, due first, one worker per reader."""
    names = _readers(svc, readers)
    driver = svc.driver
    run = ProductionRun(open_applications(svc), svc.engine,
                        DirectAccess(driver.connect, driver.card_token), names, Actor(f"cli:{getpass.getuser()}", svc.site_id), limit=limit,
                        card_wait=card_wait, on_progress=_show,
                        on_produced=face_printer(lambda: svc.engine.face,
                                                 os.environ.get("CARDSERVICE_PRINTER")))
    finished = threading.Event()
    worker = threading.Thread(target=lambda: (run.run(), finished.set()), daemon=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: run.stop())
    click.echo(f"producing on {len(names)} reader(s): {', '.join(names)}", err=True)
    worker.start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        click.echo("\nstopping after the cards in hand (run again to resume)", err=True)
        run.stop()
        # a second Ctrl-C must not end the process in the middle of a card write
        interrupt = signal.signal(signal.SIGINT, lambda *_: click.echo(
            "\nstill finishing the cards in hand", err=True))
        finished.wait()
        signal.signal(signal.SIGINT, interrupt)
    finally:
        signal.signal(signal.SIGTERM, previous)
    p = run.progress
    click.echo("", err=True)
    if as_json:
        shown = {**p.as_dict(), "held": [{"application_id": a, "card_serial": s}
                                         for a, s in run.held.items()]}
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        for app_id, serial, code in p.results:
            printed = p.prints.get(app_id) or {}
            note = "  PRINT_FAILED" if printed.get("status") == "failed" else ""
            click.echo(f"{app_id}  {serial or '-'}  {code or 'produced'}{note}")
        for app_id, serial in run.held.items():
            click.echo(f"{app_id}  {serial}  HELD: the write of this card is unsettled; read "
                       "the card (cardservice card read) to settle it")
        click.echo(f"run {p.run_id} {p.state}: {p.done} produced, {p.failed} failed")
    if p.print_failed:
        click.echo(f"error PRINT_FAILED: {p.print_failed} card(s) were produced, but their face "
                   "did not print; print each again with `cardservice card print`", err=True)
    if p.failed:
        sys.exit(4)
    if p.print_failed:
        sys.exit(6)


def _show(p: Progress) -> None:
    click.echo("\r" + progress_line(p), nl=False, err=True)


def _readers(svc: Service, wanted: tuple[str, ...]) -> list[str]:
    names = [r.name for r in svc.driver.readers()]
    if not names:
        raise errors.NoReaderError("no smart-card reader is connected")
    if not wanted or wanted == ("all",):
        return names
    missing = [w for w in wanted if w not in names]
    if missing:
        raise errors.ReaderNotFoundError(f"no reader named {missing[0]!r}; readers: "
                                         f"{', '.join(names)}")
    return list(wanted)
