"""The development master keys that `cardsim new` diversifies card keys from.

They are public (package data ``dev_keys.json``) so the service's demo set-up can use the same
ones; real deployments use their own master keys.
"""

from __future__ import annotations

import json
import logging
from importlib import resources

from card_layout.auth import KEY_LEN
from card_layout.files import KeyRef

logger = logging.getLogger(__name__)

_FIELDS = {KeyRef.PERSONALIZATION: "personalization", KeyRef.WRITE: "write"}


def load_dev_master_keys() -> dict[KeyRef, bytes]:
    """The dev master key for each key reference (16-byte AES keys)."""
    text = resources.files(__package__).joinpath("dev_keys.json").read_text("utf-8")
    raw = json.loads(text)
    keys = {ref: bytes.fromhex(raw[name]) for ref, name in _FIELDS.items()}
    for ref, key in keys.items():
        if len(key) != KEY_LEN:
            raise ValueError(f"dev master key {ref.name} is not {KEY_LEN} bytes")
    return keys
