"""Fixed test keys, a test PKI, sample cards, and the generator of docs/vectors/*.json.

Regenerate the vectors with ``.venv/bin/python tests/unit/vectors_gen.py`` (from the project
root). Every key here is derived from a fixed public label: they are TEST keys only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT_DIR = Path(__file__).resolve().parents[2]
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from card_layout.chip import chip_auth_tbs
from card_layout.identity import Identity
from card_layout.idfile import encode_identity_file
from card_layout.jpeg_sample import flat_jpeg
from card_layout.record import ResidenceRecord
from card_layout.signature import SignatureBlock
from card_layout.slots import encode_slot
from cardservice.pki.signing import (
    Signer,
    identity_tbs,
    record_tbs,
    sign_identity,
    sign_record,
)
from cardservice.pki.trust import (
    TrustStore,
    make_authority_certificate,
    make_crl,
    make_root_certificate,
)

VECTORS_DIR = ROOT_DIR / "docs" / "vectors"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 28)
ROOT_NAME = "某县公安局 RP1 测试根"
#: label -> (key kind, authority name in the certificate CN)
AUTHORITIES: dict[str, tuple[str, str]] = {
    "ed": ("ed25519", "朝阳区公安分局测试受理点"),
    "ec": ("p256", "福田区公安分局测试受理点"),
}
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)


def seed(label: str) -> bytes:
    """The fixed 32-byte seed of a test key."""
    return hashlib.sha256(b"RP1 test key " + label.encode()).digest()


def ed25519_key(label: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed(label))


def p256_key(label: str) -> ec.EllipticCurvePrivateKey:
    scalar = int.from_bytes(seed(label), "big") % (_P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def fixed_key(label: str, kind: str) -> object:
    return ed25519_key(label) if kind == "ed25519" else p256_key(label)


@dataclass(frozen=True)
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    keys: dict[str, object] = field(default_factory=dict)
    certs: dict[str, x509.Certificate] = field(default_factory=dict)

    def signer(self, label: str) -> Signer:
        return Signer(self.keys[label])

    def name(self, label: str) -> str:
        return AUTHORITIES[label][1]

    def store(self, crls: tuple = ()) -> TrustStore:
        return TrustStore([self.root_cert], self.certs.values(), crls)

    def crl(self, *labels: str, now: datetime = NOW) -> x509.CertificateRevocationList:
        serials = [self.certs[label].serial_number for label in labels]
        return make_crl(self.root_key, self.root_cert, serials, now=now)


def build_pki(now: datetime = NOW, *, root_label: str = "root", days: int = 3650) -> Pki:
    """A root (P-256) and one authority per entry of AUTHORITIES, valid ``days`` from ``now``."""
    root_key = p256_key(root_label)
    root_cert = make_root_certificate(root_key, ROOT_NAME, now=now, days=days)
    keys = {label: fixed_key(label, kind) for label, (kind, _) in AUTHORITIES.items()}
    certs = {
        label: make_authority_certificate(root_key, root_cert, keys[label].public_key(),
                                          AUTHORITIES[label][1], now=now, days=days)
        for label in AUTHORITIES
    }
    return Pki(root_key, root_cert, keys, certs)


@dataclass(frozen=True)
class Card:
    serial: bytes
    identity: Identity
    record: ResidenceRecord
    id_file: bytes
    slot: bytes
    identity_signed: bytes
    record_signed: bytes
    identity_sig: SignatureBlock
    record_sig: SignatureBlock


def make_card(pki: Pki, serial: bytes, identity: Identity, record: ResidenceRecord, *,
              identity_by: str = "ed", record_by: str = "ed") -> Card:
    """A personalized card image: EF.ID content and one slot content."""
    id_signer, rec_signer = pki.signer(identity_by), pki.signer(record_by)
    id_sig = sign_identity(id_signer, serial, identity)
    rec_sig = sign_record(rec_signer, serial, id_sig, record)
    return Card(serial, identity, record, encode_identity_file(identity, id_sig),
                encode_slot(record, rec_sig), identity_tbs(serial, identity, id_signer.key_id),
                record_tbs(serial, id_sig.signature, record, rec_signer.key_id), id_sig, rec_sig)


# --- the vector cards --------------------------------------------------------------------

IDENTITIES: dict[str, dict[str, str]] = {
    "cjk_temporary": {"name": "张伟", "gender": "male", "nationality": "01",
                          "citizen_number": "44030419900307123X",
                          "household_address": "广东省深圳市福田区福华一路 88 号"},
    "supplementary_plane": {"name": "𠀀明", "gender": "male", "nationality": "03",
                                "citizen_number": "310115198506150612",
                                "household_address": "上海市浦东新区𠀾路 1 弄 2 号"},
    "family_long_term": {"name": "李小红", "gender": "male", "nationality": "05",
                             "citizen_number": "110108201501010016",
                             "household_address": "北京市海淀区中关村大街 27 号"},
}

RECORDS: dict[str, dict[str, object]] = {
    "cjk_temporary": {"sequence": 1, "permit_type": "temporary", "basis": None,
                          "sponsor_citizen_number": None,
                          "current_residence": "北京市朝阳区建国路 93 号院 5 号楼 1201",
                          "issued_on": TODAY, "expires_on": date(2027, 5, 28)},
    "supplementary_plane": {"sequence": 7, "permit_type": "long_term", "basis": 2,
                                "sponsor_citizen_number": None,
                                "current_residence": "北京市朝阳区𠀾里 3 号",
                                "issued_on": TODAY, "expires_on": date(2028, 11, 28)},
    "family_long_term": {"sequence": 2, "permit_type": "long_term", "basis": 1,
                             "sponsor_citizen_number": "11010519491231002X",
                             "current_residence": "北京市朝阳区望京西路 50 号",
                             "issued_on": TODAY, "expires_on": date(2028, 3, 15)},
}

SERIALS = {"cjk_temporary": "5250310000000001", "supplementary_plane": "5250310000000002",
           "family_long_term": "52503100000000A3", "ecdsa_p256": "5250310000000004",
           "photo_chip_v2": "5250310000000005"}

#: vector name -> (identity and record it reuses, signing authority label)
VECTOR_CARDS: dict[str, tuple[str, str]] = {
    "cjk_temporary": ("cjk_temporary", "ed"),
    "supplementary_plane": ("supplementary_plane", "ed"),
    "family_long_term": ("family_long_term", "ed"),
    "ecdsa_p256": ("cjk_temporary", "ec"),  # the algorithm the demo keys use
    "photo_chip_v2": ("cjk_temporary", "ec"),  # format version 2: photo hash and chip key
}
#: The v2 vector's photo (a real 102 x 126 JPEG), chip key label and INTERNAL AUTHENTICATE.
V2_PHOTO = flat_jpeg(102, 126, 110)
V2_CHIP_LABEL = "chip"
V2_COUNTER = 1
V2_CHALLENGE = bytes.fromhex("000102030405060708090a0b0c0d0e0f")


def sample_identity(name: str) -> Identity:
    return Identity.create(**IDENTITIES[name])


def sample_record(name: str, authority: str = "ed", **changes: object) -> ResidenceRecord:
    fields = {**RECORDS[name], "issuing_authority": AUTHORITIES[authority][1], **changes}
    return ResidenceRecord.create(**fields)  # type: ignore[arg-type]


def public_raw(key: object) -> bytes:
    """Ed25519: the 32 raw bytes; P-256: the uncompressed point 04 || X || Y (65 bytes)."""
    public = key.public_key()  # type: ignore[attr-defined]
    if isinstance(public, ed25519.Ed25519PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return public.public_bytes(serialization.Encoding.X962,
                               serialization.PublicFormat.UncompressedPoint)


def private_json(label: str) -> dict[str, str]:
    """How a reader rebuilds the TEST private key of ``label`` from the vector."""
    if AUTHORITIES[label][0] == "ed25519":
        return {"test_private_key_seed_hex": seed(label).hex()}
    scalar = p256_key(label).private_numbers().private_value  # type: ignore[attr-defined]
    return {"test_private_key_scalar_hex": scalar.to_bytes(32, "big").hex()}


def vector(name: str, pki: Pki) -> dict[str, object]:
    """The JSON object of one vector card, signed by the authority VECTOR_CARDS names."""
    base, label = VECTOR_CARDS[name]
    identity, record = sample_identity(base), sample_record(base, label)
    if name == "photo_chip_v2":
        identity = dataclasses.replace(
            identity, photo_sha256=hashlib.sha256(V2_PHOTO).digest(),
            chip_public_key=public_raw(p256_key(V2_CHIP_LABEL)))
    card = make_card(pki, bytes.fromhex(SERIALS[name]), identity, record,
                     identity_by=label, record_by=label)
    signer = pki.signer(label)
    return {
        "name": name,
        "algorithm": "ed25519" if AUTHORITIES[label][0] == "ed25519" else "ecdsa_p256_sha256",
        "card_serial_hex": card.serial.hex(),
        "identity": {**IDENTITIES[base], "birth_date": identity.birth_date.isoformat()},
        "record": _record_json(record),
        "identity_file_hex": card.id_file.hex(),
        "record_slot_hex": card.slot.hex(),
        "identity_signed_hex": card.identity_signed.hex(),
        "identity_signature_hex": card.identity_sig.signature.hex(),
        "record_signed_hex": card.record_signed.hex(),
        "record_signature_hex": card.record_sig.signature.hex(),
        "public_key_hex": public_raw(pki.keys[label]).hex(),
        "key_id_hex": signer.key_id.hex(),
        **private_json(label),
        **(v2_json(card.serial) if name == "photo_chip_v2" else {}),
    }


def v2_json(serial: bytes) -> dict[str, object]:
    """The photo, the chip key and one INTERNAL AUTHENTICATE exchange of the v2 vector."""
    chip = p256_key(V2_CHIP_LABEL)
    signed = chip_auth_tbs(serial, V2_COUNTER, V2_CHALLENGE)
    ecdsa = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    r, s = decode_dss_signature(chip.sign(signed, ecdsa))
    return {
        "format_version": 2,
        "photo_hex": V2_PHOTO.hex(),
        "photo_sha256_hex": hashlib.sha256(V2_PHOTO).hexdigest(),
        "chip_public_key_hex": public_raw(chip).hex(),
        "test_chip_private_scalar_hex":
            chip.private_numbers().private_value.to_bytes(32, "big").hex(),
        "chip_auth": {
            "counter": V2_COUNTER,
            "challenge_hex": V2_CHALLENGE.hex(),
            "signed_hex": signed.hex(),
            "answer_hex": (r.to_bytes(32, "big") + s.to_bytes(32, "big")).hex(),
        },
    }


def _record_json(record: ResidenceRecord) -> dict[str, object]:
    return {
        "sequence": record.sequence,
        "permit_type": record.permit_type.value,
        "basis": record.basis,
        "sponsor_citizen_number": record.sponsor_citizen_number,
        "current_residence": record.current_residence,
        "issuing_authority": record.issuing_authority,
        "issued_on": record.issued_on.isoformat(),
        "expires_on": record.expires_on.isoformat(),
    }


def render(obj: dict[str, object]) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    pki = build_pki()
    VECTORS_DIR.mkdir(parents=True, exist_ok=True)
    for name in VECTOR_CARDS:
        (VECTORS_DIR / f"{name}.json").write_text(render(vector(name, pki)), encoding="utf-8")
        print(f"wrote docs/vectors/{name}.json")


if __name__ == "__main__":
    main()
