"""EF.ID content: frame "ID" around the identity TLV and its signature block."""

from __future__ import annotations

import logging

from .errors import FormatError
from .frame import VERSION, VERSION_2, decode_versioned_frame, encode_frame
from .identity import Identity, encode_identity, identity_from_tlvs
from .signature import SignatureBlock, encode_signature_block, split_signature
from .tlv import parse_tlvs

logger = logging.getLogger(__name__)

MAGIC = b"ID"


#: Format versions EF.ID may carry: 1 (the first cards) and 2 (photo hash, chip key).
VERSIONS = (VERSION, VERSION_2)


def encode_identity_file(identity: Identity, sig: SignatureBlock) -> bytes:
    body = encode_identity(identity) + encode_signature_block(sig)
    return encode_frame(MAGIC, body, identity.version)


def decode_identity_body(data: bytes) -> tuple[Identity, SignatureBlock | None]:
    """(identity, signature block or None) of EF.ID, in either format version."""
    version, body = decode_versioned_frame(MAGIC, data, VERSIONS)
    items, sig = split_signature(parse_tlvs(body))
    return identity_from_tlvs(items, version), sig


def decode_identity_file(data: bytes) -> tuple[Identity, SignatureBlock]:
    """(identity, signature block); FormatError("unsigned") for a well-formed unsigned identity."""
    identity, sig = decode_identity_body(data)
    if sig is None:
        raise FormatError("unsigned", "the identity file holds no signature block")
    return identity, sig
