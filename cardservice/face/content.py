"""What each side shows: the field texts, from a card as read (the JSON view the CLI and the API
return) or from an identity and a record about to be written."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from card_layout.identity import Identity
from card_layout.nationality import nationality_name
from card_layout.record import ResidenceRecord
from cardservice.face.layout import Layout

logger = logging.getLogger(__name__)


def _date(template: str, value: date) -> str:
    return template.format(y=value.year, m=value.month, d=value.day)


def validity_text(layout: Layout, issued_on: date, expires_on: date) -> str:
    words = layout.words
    return words["validity"].format(issued=_date(words["validity_date"], issued_on),
                                    expires=_date(words["validity_date"], expires_on))


def front_texts(layout: Layout, identity: Identity) -> dict[str, str]:
    words = layout.words
    return {
        "name": identity.name,
        "gender": words["gender"][identity.gender.label],
        "nationality": nationality_name(identity.nationality),
        "birth_date": _date(words["birth_date"], identity.birth_date),
        "household_address": identity.household_address,
        "citizen_number": identity.citizen_number,
    }


def back_texts(layout: Layout, record: ResidenceRecord) -> dict[str, str]:
    return {
        "current_residence": record.current_residence,
        "issuing_authority": record.issuing_authority,
        "validity": validity_text(layout, record.issued_on, record.expires_on),
        "permit_type": layout.words["permit_type"][record.permit_type.value],
    }


def texts_from_card(layout: Layout, card: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Both sides' texts from a card dict (``engine.views.card_dict`` shape)."""
    i, r = card.get("identity"), card.get("residence")
    if not i or not r:
        raise ValueError("the card holds no identity or no residence record")
    words = layout.words
    return {
        "front": {
            "name": i["name"],
            "gender": words["gender"][i["gender"]],
            "nationality": i["nationality"],
            "birth_date": _date(words["birth_date"], date.fromisoformat(i["birth_date"])),
            "household_address": i["household_address"],
            "citizen_number": i["citizen_number"],
        },
        "back": {
            "current_residence": r["current_residence"],
            "issuing_authority": r["issuing_authority"],
            "validity": validity_text(layout, date.fromisoformat(r["issued_on"]),
                                      date.fromisoformat(r["expires_on"])),
            "permit_type": words["permit_type"][r["permit_type"]],
        },
    }
