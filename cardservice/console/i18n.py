"""Message catalogues: one JSON file per language in ``messages/`` (zh-CN is the default).

``Translator(lang)(key, **values)`` formats the message with ``str.format``; a key missing in a
language falls back to English, then to ``default`` or the key itself. Errors are described from
their stable ``code``, ``field``/``reason`` or ``rule``, so a clerk reads them in their language.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from cardservice import errors

logger = logging.getLogger(__name__)

#: errors whose code's general message would misdescribe them: their own message
_OWN_MESSAGE: dict[type[errors.CardServiceError], str] = {
    errors.OtherSiteError: "error.other_site",  # FORBIDDEN, but not a matter of the role
    errors.NotHandedOverError: "error.not_handed_over",  # a card's state, not an application's
}

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"
_DIR = Path(__file__).parent / "messages"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    return json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def pick(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


class Translator:
    def __init__(self, lang: str | None) -> None:
        self.lang = pick(lang)
        self._own = catalogue(self.lang)
        self._en = catalogue("en")

    def __call__(self, key: str, default: str | None = None, **values: object) -> str:
        text = self._own.get(key) or self._en.get(key)
        if text is None:
            return default if default is not None else key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self._own or key in self._en

    def field_message(self, field: str, reason: str, fallback: str) -> str:
        """``Current residence: must not be empty`` from the field and reason codes."""
        label = self(f"field.{field}", default=field)
        return self("form.field_message", label=label,
                    reason=self(f"reason.{reason}", default=fallback))

    def describe(self, exc: errors.CardServiceError) -> tuple[str | None, str]:
        """``(field or None, message)`` for an error, in this language."""
        if isinstance(exc, errors.ValidationError):
            return exc.field, self.field_message(exc.field, exc.reason, exc.message)
        if isinstance(exc, errors.PolicyError):
            return None, self(f"rule.{exc.rule}", default=exc.message)
        key = _OWN_MESSAGE.get(type(exc), f"error.{exc.code}")
        return None, self(key, default=exc.message)
