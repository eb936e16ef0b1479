"""The data directory and the keys in it.

Layout (``CARDSERVICE_HOME``, default: the platform's user data dir for "cardservice")::

    authority/key.pem     the issuing authority's signing key (PEM, mode 0600)   [file keys]
    authority/token.json  which token objects hold the keys (labels, no secret)  [PKCS#11]
    authority/cert.pem    its certificate, issued by the county root
    trust/*.pem           the trust store: root and authority certificates, CRLs
    masters.json          card master keys (personalization, write), hex (mode 0600)
    registry.db, audit.db, tokens.db

Key files readable by group or others are refused (KEYS_INSECURE). With ``authority/token.json``
the authority key and the master keys live in a PKCS#11 token (cardservice/pki/pkcs11.py,
configured by ``CARDSERVICE_PKCS11_*``); no private key file is read or written.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from card_layout import auth
from card_layout.files import KeyRef
from cardservice.errors import KeysInsecureError, KeysMissingError, KeysTokenError
from cardservice.pki.pkcs11 import (
    ENV_MODULE,
    ENV_PIN_FILE,
    ENV_TOKEN,
    Token,
    TokenCardKey,
    TokenCardKeys,
    TokenConfig,
    TokenSigner,
    unique_label,
)
from cardservice.pki.signing import Signer, key_id
from cardservice.pki.trust import (
    TrustStore,
    authority_name,
    make_authority_certificate,
    make_root_certificate,
)

ENV_HOME = "CARDSERVICE_HOME"
DEMO_ROOT_NAME = "示范县公安局"
DEMO_AUTHORITY_NAME = "示范县公安局城关派出所"
MASTER_NAMES = {KeyRef.PERSONALIZATION: "personalization", KeyRef.WRITE: "write"}


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    return Path(env) if env else Path(platformdirs.user_data_dir("cardservice"))


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def authority_key(self) -> Path:
        return self.root / "authority" / "key.pem"

    @property
    def token_map(self) -> Path:
        return self.root / "authority" / "token.json"

    @property
    def authority_cert(self) -> Path:
        return self.root / "authority" / "cert.pem"

    @property
    def trust_dir(self) -> Path:
        return self.root / "trust"

    @property
    def masters(self) -> Path:
        return self.root / "masters.json"

    @property
    def registry_db(self) -> Path:
        return self.root / "registry.db"

    @property
    def audit_db(self) -> Path:
        return self.root / "audit.db"

    @property
    def tokens_db(self) -> Path:
        return self.root / "tokens.db"

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)


@dataclass(frozen=True)
class Keys:
    """Everything the engine signs and authenticates with."""

    signer: Signer | TokenSigner
    certificate: x509.Certificate
    authority_name: str
    trust: TrustStore
    masters: dict[KeyRef, bytes] | None
    card_keys: TokenCardKeys | None = None

    def card_key(self, keyref: KeyRef, serial: bytes) -> bytes | TokenCardKey:
        """The card key (bytes), or with a token a handle whose ``cryptogram`` runs inside it."""
        if self.card_keys is not None:
            return self.card_keys.card_key(keyref, serial)
        assert self.masters is not None
        return auth.diversify(self.masters[keyref], serial)


def check_private(path: Path) -> None:
    """Refuse a secret file that group or others can read or write."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeysInsecureError(
            f"{path.name} has mode {stat.S_IMODE(mode):04o}; it must be 0600 (chmod 600)"
        )


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    path.write_bytes(data)


def load_keys(home: DataDir, token_config: TokenConfig | None = None) -> Keys:
    """The authority's keys: from the token when ``authority/token.json`` exists, else files."""
    if home.token_map.exists():
        return _load_token_keys(home, token_config or TokenConfig.from_env())
    for path in (home.authority_key, home.authority_cert, home.masters):
        if not path.exists():
            raise KeysMissingError(
                f"{path.relative_to(home.root)} is missing in the data directory; "
                "run `cardservice keys init --demo` or install the authority's keys"
            )
    check_private(home.authority_key)
    check_private(home.masters)
    key = serialization.load_pem_private_key(home.authority_key.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(home.authority_cert.read_bytes())
    raw = json.loads(home.masters.read_text())
    masters = {ref: bytes.fromhex(raw[name]) for ref, name in MASTER_NAMES.items()}
    return Keys(Signer(key), cert, authority_name(cert), TrustStore.load(home.trust_dir), masters)


def _load_token_keys(home: DataDir, config: TokenConfig | None) -> Keys:
    if config is None:
        raise KeysMissingError(f"the keys are in a PKCS#11 token ({home.token_map.name}); set "
                               f"{ENV_MODULE}, {ENV_TOKEN} and {ENV_PIN_FILE}")
    if not home.authority_cert.exists():
        raise KeysMissingError("authority/cert.pem is missing in the data directory")
    labels = json.loads(home.token_map.read_text())
    for needed, fix in (("authority_key", "cardservice site request --pkcs11"),
                        ("masters", "cardservice site masters --pkcs11")):
        if needed not in labels:
            raise KeysMissingError(f"{home.token_map.name} names no {needed} in the token; "
                                   f"run `{fix}`")
    token = open_token(config)
    signer = TokenSigner(token.ec_key(labels["authority_key"]))
    cert = x509.load_pem_x509_certificate(home.authority_cert.read_bytes())
    if key_id(cert.public_key()) != signer.key_id:
        raise KeysTokenError("authority/cert.pem does not certify the token's authority key")
    card_keys = TokenCardKeys(token, {ref: labels["masters"][name]
                                      for ref, name in MASTER_NAMES.items()})
    return Keys(signer, cert, authority_name(cert), TrustStore.load(home.trust_dir), None,
                card_keys)


_TOKENS: dict[TokenConfig, Token] = {}
_TOKENS_LOCK = threading.Lock()


def open_token(config: TokenConfig) -> Token:
    """The process's one session on the configured token (opened and logged in once)."""
    with _TOKENS_LOCK:
        if config not in _TOKENS:
            _TOKENS[config] = Token(config)
        return _TOKENS[config]


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def init_demo(home: DataDir, *, now: datetime, masters: dict[KeyRef, bytes],
              authority: str = DEMO_AUTHORITY_NAME, force: bool = False,
              token: TokenConfig | None = None) -> Keys:
    """Create a demo county root, one issuing authority and the card master keys.

    ``masters`` are the simulator's dev master keys, so simulated cards accept this authority.
    The demo root key is kept in the data directory (``root/key.pem``) so that more demo
    authorities can be issued; a real deployment never holds the root key on an acceptance PC.
    """
    if (home.authority_key.exists() or home.token_map.exists()) and not force:
        return load_keys(home, token)
    home.ensure()
    if token is not None:
        return _init_demo_token(home, now, masters, authority, token)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_root_certificate(root_key, DEMO_ROOT_NAME, now=now, days=3650)
    auth_key = ec.generate_private_key(ec.SECP256R1())
    cert = make_authority_certificate(root_key, root, auth_key.public_key(), authority,
                                      now=now, days=1825)
    write_private(home.root / "root" / "key.pem", _key_pem(root_key))
    write_public(home.trust_dir / "root.pem", _pem(root))
    write_public(home.trust_dir / "authority.pem", _pem(cert))
    write_private(home.authority_key, _key_pem(auth_key))
    write_public(home.authority_cert, _pem(cert))
    body = {name: masters[ref].hex() for ref, name in MASTER_NAMES.items()}
    write_private(home.masters, (json.dumps(body, indent=2) + "\n").encode())
    return load_keys(home)


def _init_demo_token(home: DataDir, now: datetime, masters: dict[KeyRef, bytes], authority: str,
                     config: TokenConfig) -> Keys:
    """The demo keys inside the token; the data directory gets certificates and labels only."""
    session = open_token(config)
    root_key = session.generate_ec(unique_label("demo-root", now))
    root = make_root_certificate(root_key, DEMO_ROOT_NAME, now=now, days=3650)
    auth_key = session.generate_ec(unique_label("authority", now))
    cert = make_authority_certificate(root_key, root, auth_key.public_key(), authority,
                                      now=now, days=1825)
    labels = {name: unique_label(f"master-{name}", now) for name in MASTER_NAMES.values()}
    for ref, name in MASTER_NAMES.items():
        session.import_master(labels[name], masters[ref])
    write_public(home.trust_dir / "root.pem", _pem(root))
    write_public(home.trust_dir / "authority.pem", _pem(cert))
    write_public(home.authority_cert, _pem(cert))
    for stale in (home.authority_key, home.masters, home.root / "root" / "key.pem"):
        stale.unlink(missing_ok=True)
    body = {"backend": "pkcs11", "token": config.token, "root_key": root_key.label,
            "authority_key": auth_key.label, "masters": labels}
    write_public(home.token_map, (json.dumps(body, indent=2) + "\n").encode())
    return load_keys(home, config)
