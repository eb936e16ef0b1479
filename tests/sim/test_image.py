"""Card image file: blank card, JSON round trip, atomic writes, bad files, dev keys."""

from __future__ import annotations

import json

import pytest

from card_layout.files import AUTH_TRIES, CAPACITY, Fid, KeyRef
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage, ImageError
from tests.sim.conftest import SERIAL


def test_blank_card_layout(blank_image):
    assert blank_image.files[Fid.CARD].data == SERIAL
    for fid in (Fid.ID, Fid.RES_A, Fid.RES_B):
        assert blank_image.files[fid].length == 0
        assert blank_image.files[fid].capacity == CAPACITY[fid]
    assert blank_image.tries == {ref: AUTH_TRIES for ref in KeyRef}
    assert not blank_image.locked


def test_round_trip(blank_image):
    blank_image.files[Fid.RES_A].memory[:2] = b"\x01\x02"
    blank_image.files[Fid.RES_A].length = 2
    blank_image.locked = True
    blank_image.save()
    assert CardImage.load(blank_image.path) == blank_image


def test_image_holds_no_master_keys(blank_image):
    text = blank_image.path.read_text()
    for master in load_dev_master_keys().values():
        assert master.hex().upper() not in text


def test_save_leaves_no_temp_files(blank_image):
    blank_image.save()
    assert [p.name for p in blank_image.path.parent.iterdir()] == ["card.json"]


@pytest.mark.parametrize("mutate", [
    lambda raw: raw.update(format="other"),
    lambda raw: raw["files"]["0102"].update(length=9999),
    lambda raw: raw["files"]["0101"].update(memory="00"),
    lambda raw: raw.update(serial="00"),
    lambda raw: raw["keys"].pop("01"),
])
def test_bad_images_raise_image_error(blank_image, mutate):
    raw = json.loads(blank_image.path.read_text())
    mutate(raw)
    blank_image.path.write_text(json.dumps(raw))
    with pytest.raises(ImageError):
        CardImage.load(blank_image.path)


def test_missing_or_garbage_file(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        CardImage.load(tmp_path / "none.json")
    (tmp_path / "g.json").write_text("{not json")
    with pytest.raises(ImageError, match="not a valid card image"):
        CardImage.load(tmp_path / "g.json")


def test_dev_master_keys_are_two_distinct_aes_keys():
    keys = load_dev_master_keys()
    assert set(keys) == set(KeyRef)
    assert all(len(k) == 16 for k in keys.values())
    assert keys[KeyRef.PERSONALIZATION] != keys[KeyRef.WRITE]


def test_blank_refuses_wrong_serial_length():
    with pytest.raises(ImageError):
        CardImage.blank(b"\x01", load_dev_master_keys())
