"""Signed checkpoints of the PostgreSQL audit log (audit schema v4).

A checkpoint lets the next verify start where the last one ended, so it is only as good as the
word of whoever wrote it. A database owner who rewrote a chain could rewrite its checkpoints
too; a checkpoint signed with the verifying site's authority key (in its HSM) cannot be forged
that way. The storage layer does not sign: the caller passes a :class:`CheckpointSeal`
(:class:`cardservice.pki.checkpoints.KeySeal`) that signs each new checkpoint and checks the
stored ones. With a seal, a verify

* signs every checkpoint it records (``audit_checkpoint.signature``);
* trusts a stored checkpoint only with a signature that checks: an unsigned one (written before
  v4, or by a verify without keys) is passed over for the newest signed one, or, with none, the
  chain is checked from its first entry;
* fails on a checkpoint whose signature does not check (a forged or altered row) among those
  it looks at (each chain's newest down to its newest signed one).

Without a seal (no keys at hand) checkpoints are recorded unsigned and used as stored.

A signature stops a forged or altered checkpoint, not a deleted one: an owner who deletes a
chain's signed checkpoints (or replaces them with unsigned rows) leaves it to a check from its
first entry, which a chain rewritten with every hash recomputed passes. So the verifying PC also
keeps the checkpoints of its last good verify outside the database (*anchors*,
:func:`with_anchors`), and each chain must still reach its anchor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

#: what a checkpoint signature covers: this tag, then the compact JSON array below
TBS_TAG = b"CS-AUDIT-CHECKPOINT-v1\x00"


@dataclass(frozen=True)
class Checkpoint:
    """One stored checkpoint: the chain of ``site`` verified up to entry ``site_seq``, whose
    hash is ``entry_hash``, at ``verified_at`` (the stored text)."""

    site: str
    site_seq: int
    entry_hash: bytes
    verified_at: str

    def tbs(self) -> bytes:
        """The bytes the signature covers."""
        return TBS_TAG + json.dumps(
            [self.site, self.site_seq, self.entry_hash.hex(), self.verified_at],
            ensure_ascii=False, separators=(",", ":")).encode()


class CheckpointSeal(Protocol):
    def sign(self, checkpoint: Checkpoint) -> bytes:
        """The signature to store with ``checkpoint``."""

    def check(self, checkpoint: Checkpoint, signature: bytes) -> str | None:
        """None when ``signature`` is a trusted signature of ``checkpoint``, else why not."""


#: every checkpoint, newest first in each site chain, with what its signature covers
CHECKPOINTS_SQL = ("SELECT site_id, site_seq, hash, verified_at, signature FROM audit_checkpoint "
                   "ORDER BY site_id, site_seq DESC")


def trusted_checkpoints(rows: list[tuple], seal: CheckpointSeal | None
                        ) -> tuple[dict[str, tuple[int, bytes]], str | None]:
    """({site: (site_seq, hash)}: the checkpoint each chain's verify may start from and must
    reach, or the reason a stored checkpoint is refused). ``rows``: :data:`CHECKPOINTS_SQL`'s.
    Without a seal, each chain's newest; with one, its newest *signed* one: an unsigned row
    is passed over (an older signed one still binds the chain: a rewritten chain with a new
    unsigned checkpoint is caught by it), a row whose signature does not check is refused."""
    usable: dict[str, tuple[int, bytes]] = {}
    for site, seq, entry_hash, verified_at, signature in rows:
        if site in usable:
            continue
        checkpoint = Checkpoint(site, int(seq), bytes(entry_hash), verified_at)
        if seal is not None:
            if signature is None:
                continue
            reason = seal.check(checkpoint, bytes(signature))
            if reason is not None:
                return {}, f"checkpoint of site {site} at entry {seq}: {reason}"
        usable[site] = (checkpoint.site_seq, checkpoint.entry_hash)
    return usable, None


def with_anchors(checkpoints: dict[str, tuple[int, bytes]],
                 anchors: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, bytes]]:
    """Each chain's checkpoint, or its anchor where that is as new or newer. An anchor is a
    checkpoint the verifying PC kept outside the database (``audit-anchors.json`` in its data
    directory): the one thing an owner who deletes or replaces checkpoint rows cannot reach.
    The chain must still carry the anchor's hash at its entry."""
    chosen = dict(checkpoints)
    for site, (seq, entry_hash) in anchors.items():
        if site not in chosen or seq >= chosen[site][0]:
            chosen[site] = (seq, entry_hash)
    return chosen
