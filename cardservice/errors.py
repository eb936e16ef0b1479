"""The service's error types. Each has a stable ``code`` that the CLI prints and the HTTP API
returns (``{"error": {"code", "message", "retriable"}}``); the codes are a public contract."""

from __future__ import annotations


class CardServiceError(Exception):
    """Base of every error the service reports to a user or client."""

    code = "INTERNAL_ERROR"
    retriable = False

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "retriable": self.retriable}


# --- transport / PC/SC -------------------------------------------------------------------


class TransportError(CardServiceError):
    """Communication with the reader or card failed."""

    code = "TRANSPORT_ERROR"
    retriable = True


class PcscUnavailableError(TransportError):
    """The PC/SC service (pcscd) is not running or not reachable."""

    code = "PCSC_UNAVAILABLE"


class NoReaderError(TransportError):
    """No smart-card reader is connected."""

    code = "NO_READER"


class ReaderNotFoundError(CardServiceError):
    """The named reader does not exist."""

    code = "READER_NOT_FOUND"


class AmbiguousReaderError(CardServiceError):
    """Several readers hold a card; name one."""

    code = "READER_AMBIGUOUS"


class NoCardError(TransportError):
    """There is no card in the reader."""

    code = "NO_CARD"


class CardRemovedError(TransportError):
    """The card was removed (or lost power) during the operation."""

    code = "CARD_REMOVED"


class CardResetError(TransportError):
    """The card was reset by another application during the operation."""

    code = "CARD_RESET"


class ReaderBusyError(TransportError):
    """The reader is in use by another operation or application."""

    code = "READER_BUSY"


class CardTimeoutError(TransportError):
    """The card did not answer in time."""

    code = "CARD_TIMEOUT"


# --- card protocol -----------------------------------------------------------------------


class CardProtocolError(CardServiceError):
    """The card answered with an unexpected status word or malformed data."""

    code = "CARD_ERROR"


class NotRp1CardError(CardProtocolError):
    """The card in the reader has no RP1 residence-permit application."""

    code = "NOT_A_PERMIT_CARD"


class CardAuthError(CardProtocolError):
    """The card refused the write key (wrong key for this card)."""

    code = "CARD_AUTH_FAILED"


class CardAuthBlockedError(CardProtocolError):
    """The card's key is blocked after too many wrong authentications."""

    code = "CARD_AUTH_BLOCKED"


# --- card state / operations -------------------------------------------------------------


class CardChangedError(CardServiceError):
    """The card in the reader is not the card that was read; nothing was written."""

    code = "CARD_CHANGED"
    retriable = True


class AlreadyPersonalizedError(CardServiceError):
    """The card is already personalized; its identity cannot be written again."""

    code = "ALREADY_PERSONALIZED"


class NotPersonalizedError(CardServiceError):
    """The card is blank; issue it first."""

    code = "NOT_PERSONALIZED"


class CardInvalidError(CardServiceError):
    """The card's data does not verify; it will not be re-signed."""

    code = "CARD_INVALID"


class CardRevokedError(CardServiceError):
    """The card is revoked in the registry."""

    code = "CARD_REVOKED"


class CitizenHasCardError(CardServiceError):
    """The citizen already holds an active card (one person, one card)."""

    code = "CITIZEN_HAS_CARD"


class WriteVerifyError(CardServiceError):
    """The card did not read back what was written, or could not be read back at all: the
    audit intent ``intent_id`` stays pending until the next read of the card reconciles it."""

    code = "WRITE_NOT_CONFIRMED"
    retriable = True

    def __init__(self, message: str = "", intent_id: int | None = None) -> None:
        super().__init__(message, intent_id=intent_id)
        self.intent_id = intent_id

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        if self.intent_id is not None:
            out["intent_id"] = self.intent_id
        return out


class NotFoundError(CardServiceError):
    """No such card in the registry."""

    code = "NOT_FOUND"


# --- input / rules -----------------------------------------------------------------------


class ValidationError(CardServiceError):
    """A field value is not acceptable. ``field`` names it."""

    code = "VALIDATION_ERROR"

    def __init__(self, field: str, message: str, reason: str = "invalid") -> None:
        super().__init__(f"{field}: {message}", field=field, reason=reason)
        self.field = field
        self.reason = reason

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "field": self.field, "reason": self.reason}


class PolicyError(CardServiceError):
    """The permit rules forbid this. ``rule`` names the rule broken (stable)."""

    code = "POLICY_VIOLATION"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}", rule=rule)
        self.rule = rule

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "rule": self.rule}


# --- the printed face ---------------------------------------------------------------------


class FaceUnavailableError(CardServiceError):
    """The face layout or its fonts cannot be loaded; faces cannot be rendered or checked."""

    code = "FACE_UNAVAILABLE"


class PrintError(CardServiceError):
    """Printing the card's face failed; the chip is already written: print again, never rewrite."""

    code = "PRINT_FAILED"
    retriable = True


class PayloadTooLargeError(CardServiceError):
    """The request body is larger than this route accepts."""

    code = "PAYLOAD_TOO_LARGE"


class TooManySubscribersError(CardServiceError):
    """Too many event subscribers (for this token, or in all); close one and retry."""

    code = "TOO_MANY_SUBSCRIBERS"
    retriable = True


class MalformedRequestError(CardServiceError):
    """The request body is not well-formed JSON."""

    code = "MALFORMED_REQUEST"


# --- keys / configuration ----------------------------------------------------------------


class KeysMissingError(CardServiceError):
    """The data directory holds no signing keys; run `cardservice keys init`."""

    code = "KEYS_MISSING"


class KeysInsecureError(CardServiceError):
    """A key file is readable by other users; fix its mode (0600)."""

    code = "KEYS_INSECURE"


class KeysTokenError(CardServiceError):
    """The PKCS#11 token cannot be used (module, token label, PIN or a key in it)."""

    code = "KEYS_TOKEN_ERROR"


class TrustBundleError(CardServiceError):
    """A trust bundle is malformed or its signature does not chain to a trusted root."""

    code = "TRUST_BUNDLE_INVALID"


class VerifyOnlyError(CardServiceError):
    """This installation only reads and verifies cards (CARDSERVICE_MODE=verify)."""

    code = "FORBIDDEN"


class OtherSiteError(CardServiceError):
    """A step that belongs to the acceptance point where the application was taken (its audit,
    the hand-over of its card), asked at another site."""

    code = "FORBIDDEN"


class CountyError(CardServiceError):
    """A county-centre operation cannot be done (missing root, unknown site, bad request)."""

    code = "COUNTY_ERROR"


# --- storage ------------------------------------------------------------------------------


class RegistryUnavailableError(CardServiceError):
    """The registry database cannot be reached; nothing was written. Try again."""

    code = "REGISTRY_UNAVAILABLE"
    retriable = True


class SchemaOutdatedError(CardServiceError):
    """The database schema is older (or newer) than this software; run `cardservice db upgrade`."""

    code = "SCHEMA_OUTDATED"


# --- console clerks ------------------------------------------------------------------------


class CsrfError(CardServiceError):
    """The form's CSRF token is missing or does not match the session."""

    code = "CSRF_FAILED"


class LoginFailedError(CardServiceError):
    """The name or the password is wrong, or the account is disabled."""

    code = "LOGIN_FAILED"


class LoginLockedError(CardServiceError):
    """Too many failed logins; wait until the lockout ends."""

    code = "LOGIN_LOCKED"

    def __init__(self, until) -> None:
        super().__init__(f"too many failed logins; try again after {until.isoformat()}")
        self.until = until


class UserExistsError(CardServiceError):
    """A clerk account with this name exists."""

    code = "USER_EXISTS"


# --- pairing of client apps ----------------------------------------------------------------


class RateLimitedError(CardServiceError):
    """Too many requests of this kind just now; try again later."""

    code = "RATE_LIMITED"
    retriable = True


class TooManyPendingError(CardServiceError):
    """Too many pairing requests wait for a clerk; try again when one is decided or expired."""

    code = "TOO_MANY_PENDING"
    retriable = True


# --- applications (first issue) ----------------------------------------------------------


class ApplicationStateError(CardServiceError):
    """The application is not in a state that allows this step."""

    code = "APPLICATION_STATE"


class NotHandedOverError(ApplicationStateError):
    """A re-sign or renewal of a card produced for an application that is not handed over yet
    (only the hand-over makes it active)."""


class ApplicationOpenError(CardServiceError):
    """The citizen already has an open application."""

    code = "APPLICATION_OPEN"


class CalendarYearUnknownError(CardServiceError):
    """The working-day calendar does not know the year a due date falls in."""

    code = "CALENDAR_YEAR_UNKNOWN"
