"""Keys inside a PKCS#11 token (python-pkcs11; tested on SoftHSM 2).

Configuration (environment): ``CARDSERVICE_PKCS11_MODULE`` (the module's path),
``CARDSERVICE_PKCS11_TOKEN`` (the token label) and ``CARDSERVICE_PKCS11_PIN_FILE`` (a file,
mode 0600, holding the user PIN; the PIN itself is never an argument, an environment value or a
log line).

What the token does, and what leaves it:

- **ECDSA P-256**: the host computes SHA-256 of the signed bytes and the token signs the digest
  with ``CKM_ECDSA`` (SoftHSM 2.6 lists no ``CKM_ECDSA_SHA256``). PKCS#11 returns r || s, which
  is the card format's encoding as it is. Every signature is verified against the key's public
  half before it is returned, so a faulty token cannot get a bad signature onto a card.
- **Card keys**: a card key is ``AES-CMAC(master, serial)`` (card_layout/auth.py). For an
  8-byte serial CMAC is one AES block: ``AES(master, (serial || 80 00..00) XOR K2)`` where K2 is
  the master's CMAC subkey. The token derives the card key with ``CKM_AES_ECB_ENCRYPT_DATA`` over
  that block into a session object that is sensitive and not extractable, then computes the
  EXTERNAL AUTHENTICATE cryptogram with ``CKM_AES_CMAC``: the master and the card key stay in the
  token, only the 16-byte cryptogram comes out. K2 (a value derived from the master that does not
  reveal it) is computed when the master is imported and kept beside it as a private data object.
- One logged-in session per process, every call under one lock (PKCS#11 sessions are not
  thread-safe).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from card_layout.signature import SigAlg
from cardservice.errors import KeysMissingError, KeysTokenError
from cardservice.pki.signing import key_id as compute_key_id

logger = logging.getLogger(__name__)

ENV_MODULE = "CARDSERVICE_PKCS11_MODULE"
ENV_TOKEN = "CARDSERVICE_PKCS11_TOKEN"
ENV_PIN_FILE = "CARDSERVICE_PKCS11_PIN_FILE"
K2_SUFFIX = ".cmac-k2"
_COORD = 32


@dataclass(frozen=True)
class TokenConfig:
    module: str
    token: str
    pin_file: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> TokenConfig | None:
        """The configuration from the environment; None when no module is configured."""
        env = dict(os.environ) if env is None else env
        module = env.get(ENV_MODULE)
        if not module:
            return None
        missing = [name for name in (ENV_TOKEN, ENV_PIN_FILE) if not env.get(name)]
        if missing:
            raise KeysMissingError(f"{ENV_MODULE} is set but {', '.join(missing)} is not")
        return cls(module, env[ENV_TOKEN], Path(env[ENV_PIN_FILE]))

    def read_pin(self) -> str:
        from cardservice.pki.keys import check_private

        if not self.pin_file.is_file():
            raise KeysMissingError(f"the PIN file named by {ENV_PIN_FILE} does not exist")
        check_private(self.pin_file)
        return self.pin_file.read_text().strip()


def unique_label(kind: str, now: datetime) -> str:
    """``cardservice-<kind>-<UTC time>-<random>``: a new object never shares a label."""
    return f"cardservice-{kind}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def require_config() -> TokenConfig:
    config = TokenConfig.from_env()
    if config is None:
        raise KeysMissingError(f"--pkcs11 needs {ENV_MODULE}, {ENV_TOKEN} and {ENV_PIN_FILE}")
    return config


_LIBS: dict[str, object] = {}
_LIBS_LOCK = threading.Lock()


def _lib(module: str):
    import pkcs11

    with _LIBS_LOCK:
        if module not in _LIBS:
            try:
                _LIBS[module] = pkcs11.lib(module)
            except RuntimeError as exc:
                raise KeysTokenError(f"cannot load the PKCS#11 module: {exc}") from None
        return _LIBS[module]


class Token:
    """One logged-in read-write session on the configured token; all calls hold one lock."""

    def __init__(self, config: TokenConfig) -> None:
        import pkcs11
        from pkcs11 import exceptions as pe

        pin = config.read_pin()
        self.config = config
        self._lock = threading.Lock()
        try:
            token = _lib(config.module).get_token(token_label=config.token)
            self._session = token.open(user_pin=pin, rw=True)
        except pe.NoSuchToken:
            raise KeysTokenError(f"no PKCS#11 token labelled {config.token!r}") from None
        except (pe.PinIncorrect, pe.PinInvalid, pe.PinLenRange):
            raise KeysTokenError(f"the token {config.token!r} refused the PIN "
                                 f"(check the file named by {ENV_PIN_FILE})") from None
        except pe.PinLocked:
            raise KeysTokenError(f"the token {config.token!r} has locked its user PIN") from None
        except pkcs11.PKCS11Error as exc:
            raise KeysTokenError(f"cannot open the token {config.token!r}: "
                                 f"{type(exc).__name__}") from None
        self._handles: dict[tuple[str, str], object] = {}

    def close(self) -> None:
        with self._lock:
            self._session.close()

    # --- objects --------------------------------------------------------------------------

    def _find(self, label: str, kind: str):
        from pkcs11 import Attribute, ObjectClass
        from pkcs11 import exceptions as pe

        key = (label, kind)
        if key not in self._handles:
            cls = {"private": ObjectClass.PRIVATE_KEY, "public": ObjectClass.PUBLIC_KEY,
                   "secret": ObjectClass.SECRET_KEY, "data": ObjectClass.DATA}[kind]
            try:
                self._handles[key] = self._session.get_key(object_class=cls, label=label) \
                    if kind != "data" else next(iter(self._session.get_objects(
                        {Attribute.CLASS: cls, Attribute.LABEL: label})))
            except (pe.NoSuchKey, StopIteration):
                raise KeysMissingError(f"the token holds no {kind} object {label!r}") from None
        return self._handles[key]

    def has(self, label: str, kind: str = "private") -> bool:
        with self._lock:
            try:
                self._find(label, kind)
                return True
            except KeysMissingError:
                return False

    def generate_ec(self, label: str) -> TokenKey:
        """A new P-256 key pair stored in the token (private half sensitive, not extractable)."""
        from pkcs11 import Attribute, KeyType
        from pkcs11.util.ec import encode_named_curve_parameters

        with self._lock:
            params = self._session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True)
            params.generate_keypair(
                store=True, label=label,
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.SIGN: True, Attribute.DERIVE: False})
        return self.ec_key(label)

    def ec_key(self, label: str) -> TokenKey:
        from pkcs11 import Attribute

        with self._lock:
            self._find(label, "private")
            point = bytes(self._find(label, "public")[Attribute.EC_POINT])
        return TokenKey(self, label, _public_from_point(point))

    def sign_digest(self, label: str, digest: bytes) -> bytes:
        import pkcs11
        from pkcs11 import Mechanism

        with self._lock:
            try:
                return bytes(self._find(label, "private").sign(digest,
                                                               mechanism=Mechanism.ECDSA))
            except pkcs11.PKCS11Error as exc:
                raise KeysTokenError(f"the token could not sign with {label!r}: "
                                     f"{type(exc).__name__}") from None

    def import_master(self, label: str, value: bytes) -> None:
        """Store an AES-128 card master key (derive only) and its CMAC subkey K2."""
        from pkcs11 import Attribute, KeyType, ObjectClass

        with self._lock:
            self._session.create_object({
                Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                Attribute.VALUE: value, Attribute.TOKEN: True, Attribute.LABEL: label,
                Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                Attribute.DERIVE: True, Attribute.ENCRYPT: False, Attribute.DECRYPT: False,
                Attribute.SIGN: False, Attribute.VERIFY: False})
            self._session.create_object({
                Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: True,
                Attribute.LABEL: label + K2_SUFFIX, Attribute.VALUE: cmac_k2(value)})

    def cryptogram(self, master_label: str, serial: bytes, challenge: bytes) -> bytes:
        """AES-CMAC(AES-CMAC(master, serial), challenge), both steps inside the token."""
        import pkcs11

        with self._lock:
            try:
                return self._cryptogram(master_label, serial, challenge)
            except pkcs11.PKCS11Error as exc:
                raise KeysTokenError(f"the token could not answer the card's challenge with "
                                     f"{master_label!r}: {type(exc).__name__}") from None

    def _cryptogram(self, master_label: str, serial: bytes, challenge: bytes) -> bytes:
        """(Caller holds the lock.) Derive the card key as a session object, MAC, destroy it."""
        from pkcs11 import Attribute, KeyType, Mechanism

        k2 = bytes(self._find(master_label + K2_SUFFIX, "data")[Attribute.VALUE])
        card_key = self._find(master_label, "secret").derive_key(
            KeyType.AES, 128, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
            mechanism_param=_xor(_pad(serial), k2), store=False,
            template={Attribute.SIGN: True, Attribute.SENSITIVE: True,
                      Attribute.EXTRACTABLE: False})
        try:
            return bytes(card_key.sign(challenge, mechanism=Mechanism.AES_CMAC))
        finally:
            card_key.destroy()


class TokenKey:
    """A P-256 private key in the token (an ``x509sign.ExternalKey``)."""

    def __init__(self, token: Token, label: str, public: ec.EllipticCurvePublicKey) -> None:
        self.token = token
        self.label = label
        self._public = public

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def sign_raw(self, data: bytes) -> bytes:
        """r || s over SHA-256(data), verified against the public key before it is returned."""
        raw = self.token.sign_digest(self.label, hashlib.sha256(data).digest())
        if len(raw) != 2 * _COORD:
            raise KeysTokenError(f"the token returned a {len(raw)}-byte ECDSA signature")
        der = encode_dss_signature(int.from_bytes(raw[:_COORD], "big"),
                                   int.from_bytes(raw[_COORD:], "big"))
        try:
            self._public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise KeysTokenError(f"the token's signature with {self.label!r} does not verify; "
                                 "nothing was written") from None
        return raw


class TokenSigner:
    """The card signer (same interface as :class:`cardservice.pki.signing.Signer`)."""

    algorithm = SigAlg.ECDSA_P256_SHA256

    def __init__(self, key: TokenKey) -> None:
        self._key = key
        self.key_id = compute_key_id(key.public_key())

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign_raw(data)


@dataclass(frozen=True)
class TokenCardKey:
    """A card's key for one key reference, used only inside the token."""

    token: Token
    master_label: str
    serial: bytes

    def cryptogram(self, challenge: bytes) -> bytes:
        return self.token.cryptogram(self.master_label, self.serial, challenge)


@dataclass(frozen=True)
class TokenCardKeys:
    token: Token
    labels: dict  # KeyRef -> master key label

    def card_key(self, keyref, serial: bytes) -> TokenCardKey:
        return TokenCardKey(self.token, self.labels[keyref], bytes(serial))


# --- helpers ----------------------------------------------------------------------------


def _public_from_point(point: bytes) -> ec.EllipticCurvePublicKey:
    if point[:1] == b"\x04" and len(point) > 65:  # DER OCTET STRING around the point
        point = point[2:] if point[1] < 0x80 else point[2 + (point[1] & 0x7F):]
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def _pad(serial: bytes) -> bytes:
    if len(serial) >= 16:
        raise ValueError("the serial must be shorter than one AES block")
    return serial + b"\x80" + bytes(15 - len(serial))


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _double(block: bytes) -> bytes:
    n = int.from_bytes(block, "big") << 1
    if n >> 128:
        n ^= 0x87
    return (n & ((1 << 128) - 1)).to_bytes(16, "big")


def cmac_k2(master: bytes) -> bytes:
    """The second CMAC subkey of ``master`` (RFC 4493)."""
    encryptor = Cipher(algorithms.AES(master), modes.ECB()).encryptor()
    return _double(_double(encryptor.update(bytes(16)) + encryptor.finalize()))
