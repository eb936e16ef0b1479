"""POST /v1/applications/{id}/hand-over with ``reader_id``: the card in that reader is read and
must be the produced one, verify and hold the applicant (CARD_CHANGED, CARD_INVALID); without
``reader_id`` only ``card_serial`` is matched, as before."""

from __future__ import annotations

import base64

from card_layout.files import Fid
from card_layout.jpeg_sample import flat_jpeg
from cardservice.transport.readers import reader_id
from tests.engine.conftest import make_card

from .conftest import BOB, Daemon
from .test_applications_api import RESIDENCE, _certified, _certifier, _wait

PRODUCED = "52500000000000c1"


def _produced(daemon: Daemon, identity: dict = BOB) -> tuple[str, object]:
    cert = _certifier(daemon)
    app_id = _certified(daemon, cert, {"identity": identity, "residence": RESIDENCE})
    daemon.backend.feed("Sim Reader B", [make_card(PRODUCED)])
    r = daemon.client.post("/v1/production/runs",
                           json={"readers": ["Sim Reader B"], "card_wait": 0.5}, headers=cert)
    run = _wait(daemon, r.json()["id"], cert)
    assert (run["state"], run["done"], run["failed"]) == ("finished", 1, 0)
    return app_id, daemon.backend.ejected[-1]


def test_hand_over_reads_the_card_in_the_reader(daemon: Daemon) -> None:
    c, op = daemon.client, daemon.auth()
    app_id, card = _produced(daemon)
    url = f"/v1/applications/{app_id}/hand-over"
    rid = reader_id("Sim Reader B")
    body = {"card_serial": PRODUCED, "reader_id": rid}
    empty = c.post(url, json=body, headers=op)
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "NO_CARD"

    daemon.backend.insert("Sim Reader B", card)
    card.image.files[Fid.ID].memory[20] ^= 0x01  # altered since production
    altered = c.post(url, json=body, headers=op)
    assert altered.status_code == 409, altered.text
    assert altered.json()["error"]["code"] == "CARD_INVALID"
    assert c.get(f"/v1/applications/{app_id}", headers=op).json()["status"] == "produced"
    assert c.get(f"/v1/cards/{PRODUCED}", headers=op).json()["status"] == "produced"

    card.image.files[Fid.ID].memory[20] ^= 0x01  # as produced again
    wrong = c.post(url, json={**body, "card_serial": "52500000000000c2"}, headers=op)
    assert wrong.json()["error"]["code"] == "CARD_CHANGED"
    done = c.post(url, json=body, headers=op)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "handed_over"
    assert c.get(f"/v1/cards/{PRODUCED}", headers=op).json()["status"] == "active"


def test_a_photo_changed_since_production_is_not_handed_over(daemon: Daemon) -> None:
    """The hand-over reads EF.PHOTO too: it must match the hash in the signed identity."""
    photo = base64.b64encode(flat_jpeg(102, 126, 77)).decode()
    app_id, card = _produced(daemon, {**BOB, "photo": photo})
    daemon.backend.insert("Sim Reader B", card)
    memory = card.image.files[Fid.PHOTO].memory
    memory[200] ^= 0x01
    body = {"card_serial": PRODUCED, "reader_id": reader_id("Sim Reader B")}
    url = f"/v1/applications/{app_id}/hand-over"
    refused = daemon.client.post(url, json=body, headers=daemon.auth())
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CARD_INVALID"
    assert "identity_signature: bad_signature" in refused.json()["error"]["message"]
    memory[200] ^= 0x01
    done = daemon.client.post(url, json=body, headers=daemon.auth())
    assert done.status_code == 200 and done.json()["status"] == "handed_over"
