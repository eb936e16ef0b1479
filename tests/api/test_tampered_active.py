"""A tampered card whose serial is issued in the registry reads ``invalid``, never ``blank``
(which an operator could take for a card to issue) or ``unsigned`` (issue 11, point 10)."""

from __future__ import annotations

import pytest

from card_layout.files import Fid

from .conftest import READER_A


def _tamper(card, how: str) -> None:
    image = card.image
    if how == "unlocked":
        image.locked = False
    elif how == "slots_erased":
        for fid in (Fid.RES_A, Fid.RES_B):
            image.files[fid].length = 0
    elif how == "everything_erased":
        image.locked = False
        for fid in (Fid.ID, Fid.RES_A, Fid.RES_B):
            image.files[fid].length = 0


@pytest.mark.parametrize("how", ["unlocked", "slots_erased", "everything_erased"])
def test_tampered_issued_card_reads_invalid(daemon, how):
    assert daemon.issue().status_code == 200
    _tamper(daemon.backend.slots[READER_A], how)
    card = daemon.client.get(daemon.url(), headers=daemon.auth("reader")).json()
    assert card["verification"]["status"] == "invalid", card["verification"]
    failed = [c for c in card["verification"]["checks"] if c["result"] == "failed"]
    assert failed, card["verification"]
    r = daemon.issue()  # not a blank card to issue again
    assert r.status_code == 409, r.text
