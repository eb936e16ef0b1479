"""The signature block stored after the identity and after each erasable record.

TLV 0x70 (81 bytes in all) holding, in order: 0x71 algorithm (1 byte, SigAlg),
0x72 key id (8 bytes), 0x73 signature (64 bytes: ECDSA r||s or Ed25519).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

from .errors import FormatError
from .tlv import Tlv, canonical_fields, encode_tlv, parse_tlvs

logger = logging.getLogger(__name__)

TAG_SIGNATURE_BLOCK = 0x70
TAG_ALGORITHM = 0x71
TAG_KEY_ID = 0x72
TAG_SIGNATURE = 0x73

KEY_ID_LEN = 8
SIGNATURE_LEN = 64


class SigAlg(IntEnum):
    ECDSA_P256_SHA256 = 1
    ED25519 = 2


@dataclass(frozen=True)
class SignatureBlock:
    algorithm: SigAlg
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.algorithm, SigAlg):
            raise FormatError("bad_value", f"unknown signature algorithm {self.algorithm!r}")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_LEN:
            raise FormatError("bad_value", f"key id must be {KEY_ID_LEN} bytes")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_LEN:
            raise FormatError("bad_value", f"signature must be {SIGNATURE_LEN} bytes")


def encode_signature_block(sig: SignatureBlock) -> bytes:
    inner = (
        encode_tlv(TAG_ALGORITHM, bytes([sig.algorithm]))
        + encode_tlv(TAG_KEY_ID, sig.key_id)
        + encode_tlv(TAG_SIGNATURE, sig.signature)
    )
    return encode_tlv(TAG_SIGNATURE_BLOCK, inner)


def decode_signature_block(item: Tlv) -> SignatureBlock:
    """The signature block from its outer TLV (tag 0x70)."""
    if item.tag != TAG_SIGNATURE_BLOCK:
        raise FormatError("bad_tag", f"expected the signature block, got tag {item.tag:#04x}")
    fields = canonical_fields(parse_tlvs(item.value), (TAG_ALGORITHM, TAG_KEY_ID, TAG_SIGNATURE))
    alg = fields[TAG_ALGORITHM]
    if len(alg) != 1 or alg[0] not in SigAlg._value2member_map_:
        raise FormatError("bad_value", f"unknown signature algorithm {alg.hex()}")
    return SignatureBlock(SigAlg(alg[0]), fields[TAG_KEY_ID], fields[TAG_SIGNATURE])


def split_signature(items: list[Tlv]) -> tuple[list[Tlv], SignatureBlock | None]:
    """(the data TLVs, the trailing signature block or None if there is none)."""
    if items and items[-1].tag == TAG_SIGNATURE_BLOCK:
        return items[:-1], decode_signature_block(items[-1])
    return items, None
