"""Fixtures for in-process card tests: a powered blank card and APDU helpers."""

from __future__ import annotations

import random

import pytest

from card_layout.auth import cryptogram
from card_layout.files import KeyRef
from simulator.card import VirtualCard
from simulator.devkeys import load_dev_master_keys
from simulator.image import CardImage

SERIAL = bytes.fromhex("0011223344556677")


def tx(card: VirtualCard, apdu_hex: str) -> tuple[bytes, int]:
    """Send an APDU given in hex (spaces allowed); return (data, sw)."""
    resp = card.process(bytes.fromhex(apdu_hex.replace(" ", "")))
    return resp[:-2], int.from_bytes(resp[-2:], "big")


def authenticate(card: VirtualCard, ref: KeyRef, key: bytes | None = None) -> int:
    """GET CHALLENGE + EXTERNAL AUTHENTICATE with the card's own key (or ``key``); the SW."""
    challenge, sw = tx(card, "00 84 00 00 08")
    assert sw == 0x9000
    crypt = cryptogram(key or card.image.keys[ref], challenge)
    return tx(card, f"00 82 00 {ref:02X} 10 {crypt.hex()}")[1]


@pytest.fixture
def blank_image(tmp_path) -> CardImage:
    image = CardImage.blank(SERIAL, load_dev_master_keys(), tmp_path / "card.json")
    image.save()
    return image


@pytest.fixture
def card(blank_image: CardImage) -> VirtualCard:
    card = VirtualCard(blank_image, random.Random(42))
    card.power_on()
    return card
