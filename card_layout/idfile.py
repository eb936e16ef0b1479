"""EF.ID content: frame "ID" around the identity TLV and its signature block."""

from __future__ import annotations

import logging

from .errors import FormatError
from .frame import decode_frame, encode_frame
from .identity import Identity, encode_identity, identity_from_tlvs
from .signature import SignatureBlock, encode_signature_block, split_signature
from .tlv import parse_tlvs

logger = logging.getLogger(__name__)

MAGIC = b"ID"


def encode_identity_file(identity: Identity, sig: SignatureBlock) -> bytes:
    return encode_frame(MAGIC, encode_identity(identity) + encode_signature_block(sig))


def decode_identity_file(data: bytes) -> tuple[Identity, SignatureBlock]:
    """(identity, signature block); FormatError("unsigned") for a well-formed unsigned identity."""
    items, sig = split_signature(parse_tlvs(decode_frame(MAGIC, data)))
    identity = identity_from_tlvs(items)
    if sig is None:
        raise FormatError("unsigned", "the identity file holds no signature block")
    return identity, sig
