"""The smallest acceptance-point app: pair with the local cardservice daemon once, wait for a
card, show the holder and the verdict, re-sign the card after a move.

    python examples/acceptance_point.py [--url http://127.0.0.1:8765] [--token-file FILE]
                                        [--reader NAME]

The first run shows a pairing code; a clerk with an admin token approves it
(`cardservice pairing approve CODE --role operator`) and the app keeps its token in FILE.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cardservice.client import CardServiceError, Client, Missed

DEFAULT_TOKEN_FILE = Path.home() / ".config" / "acceptance-point" / "token"


def connect(url: str, token_file: Path) -> Client:
    """A client with the saved token, or pair now and save the token (owner-only file)."""
    if token_file.exists():
        return Client(url, token=token_file.read_text().strip())
    print("Pairing with the card service ...", flush=True)
    client = Client.pair(url, "Acceptance point",
                         lambda code: print(f"Pairing code: {code} (the clerk approves it)",
                                            flush=True))
    token_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(client.token + "\n")
    print("Paired.", flush=True)
    return client


def show(cs: Client, reader_id: str) -> None:
    """Read the card in the reader, show holder and verdict, offer a re-signing."""
    card = cs.read_card(reader_id)
    if card.identity is None or card.residence is None:
        print(f"Card {card.card_serial}: blank (not issued yet)", flush=True)
        return
    verdict = "VALID" if card.valid else f"NOT VALID ({card.verification.status})"
    print(f"Holder: {card.identity.name}  {card.identity.citizen_number}", flush=True)
    print(f"Residence: {card.residence.current_residence}  until {card.residence.expires_on}")
    print(f"Verdict: {verdict}", flush=True)
    if not card.valid:
        return
    moved_to = input("New residence after a move (empty: none): ").strip()
    if moved_to:
        card = cs.resign(reader_id, moved_to, card_serial=card.card_serial)
        print(f"Re-signed: {card.residence.current_residence} "
              f"(issue {card.residence.sequence})", flush=True)


def run(cs: Client, reader: str | None, once: bool) -> None:
    print("Waiting for a card ...", flush=True)
    for event in cs.events():
        if isinstance(event, Missed):
            print("(reconnected; looking at the readers again)", flush=True)
            continue
        if event.type == "hello":
            present = [r for r in event["readers"] if r["card_present"]]
        elif event.type == "card_inserted":
            present = [event.model_dump()]
        else:
            continue
        present = [r["reader_id"] for r in present if reader in (None, r["reader"])]
        for reader_id in present:
            try:
                show(cs, reader_id)
            except CardServiceError as exc:  # e.g. the card was pulled while reading
                print(f"Could not read the card: {exc.code} ({exc.message})", flush=True)
                continue
            if once:
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--token-file", type=Path, default=DEFAULT_TOKEN_FILE)
    parser.add_argument("--reader", help="the counter's reader name (default: every reader)")
    parser.add_argument("--once", action="store_true", help="stop after the first card")
    args = parser.parse_args()
    try:
        with connect(args.url, args.token_file) as cs:
            run(cs, args.reader, args.once)
    except CardServiceError as exc:
        sys.exit(f"error {exc.code}: {exc.message}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
