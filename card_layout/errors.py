"""The two error types of the card format.

``FormatError`` means stored bytes are not a legal RP1 encoding; ``FieldError`` means a value
offered for a field is not acceptable. Both carry a stable ``reason`` code (a public contract:
the service maps them to its own error codes and the verification report quotes them).
"""

from __future__ import annotations

#: Stable FormatError reasons.
FORMAT_REASONS = frozenset(
    {
        "empty",
        "truncated",
        "bad_magic",
        "bad_version",
        "bad_length",
        "bad_crc",
        "bad_tag",
        "duplicate_tag",
        "missing_field",
        "bad_value",
        "trailing_data",
        "unsigned",
    }
)

#: Stable FieldError reasons.
FIELD_REASONS = frozenset(
    {
        "empty",
        "too_long",
        "bad_format",
        "bad_check_digit",
        "bad_birth_date",
        "gender_mismatch",
        "unknown_code",
        "out_of_range",
        "bad_characters",
        "bad_region",
    }
)


class FormatError(ValueError):
    """Stored bytes are not a legal RP1 encoding. ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in FORMAT_REASONS:
            raise AssertionError(f"unknown FormatError reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[FormatError], tuple[str, str]]:
        return self.__class__, (self.reason, self.message)


class FieldError(ValueError):
    """A field value is not acceptable. ``field`` is the API field name, ``reason`` a stable code."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        if reason not in FIELD_REASONS:
            raise AssertionError(f"unknown FieldError reason {reason!r}")
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[FieldError], tuple[str, str, str]]:
        return self.__class__, (self.field, self.reason, self.message)
