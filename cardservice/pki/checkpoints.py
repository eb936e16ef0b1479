"""The audit checkpoints' seal: the site's authority key signs each checkpoint a verify records,
and the trust store (the county root, its CRLs) decides whether a stored one is trusted
(:mod:`cardservice.store.audit_seal`).

A signature is the card format's signature block (algorithm, key id, 64 bytes; the same
encoding as on the cards) over :meth:`Checkpoint.tbs`. It is trusted when the key id names an
authority certificate that chains to a trusted root now and was not revoked before the
checkpoint's ``verified_at``, and the signature checks with that certificate's key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from card_layout.errors import FormatError
from card_layout.signature import SignatureBlock, decode_signature_block, encode_signature_block
from card_layout.tlv import parse_tlvs
from cardservice.pki.signing import SignatureInvalid, verify_block
from cardservice.pki.trust import TrustError, TrustStore


class Checkpoint(Protocol):
    """What a seal needs of a checkpoint (:class:`cardservice.store.audit_seal.Checkpoint`)."""

    verified_at: str

    def tbs(self) -> bytes: ...


class KeySeal:
    """Signs with ``signer`` (a :class:`~cardservice.pki.signing.Signer` or a token's signer)
    and trusts what ``trust`` trusts."""

    def __init__(self, signer, trust: TrustStore) -> None:
        self.signer, self.trust = signer, trust

    def sign(self, checkpoint: Checkpoint) -> bytes:
        signer = self.signer
        block = SignatureBlock(signer.algorithm, signer.key_id, signer.sign(checkpoint.tbs()))
        return encode_signature_block(block)

    def check(self, checkpoint: Checkpoint, signature: bytes) -> str | None:
        try:
            items = parse_tlvs(signature)
            if len(items) != 1:
                raise FormatError("bad_value", "not one signature block")
            block = decode_signature_block(items[0])
            signed_at = datetime.fromisoformat(checkpoint.verified_at)
            authority = self.trust.resolve(block.key_id, datetime.now(UTC), signed_at=signed_at)
            verify_block(authority.public_key, block, checkpoint.tbs())
        except (FormatError, ValueError) as exc:
            return f"signature unreadable ({exc})"
        except TrustError as exc:
            return f"signer not trusted ({exc})"
        except SignatureInvalid as exc:
            return f"signature does not check ({exc})"
        return None
