"""Signed audit checkpoints on PostgreSQL (cardservice/store/audit_seal.py): a verify with the
site's keys signs the checkpoints it records and trusts only signed ones, so a database owner
who rewrites a chain cannot make a checkpoint that vouches for it."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest

from cardservice.cli.main import main
from cardservice.cli.output import EXIT_CONFLICT
from cardservice.pki.checkpoints import KeySeal
from cardservice.pki.keys import load_keys
from cardservice.store.audit_pg import canonical_pg
from cardservice.store.audit_seal import Checkpoint
from tests.engine.conftest import demo_home  # noqa: F401  (session fixture)
from tests.store.test_pg_audit import NOW, SITES, county  # noqa: F401  (fixture)

FIELDS = ("site_id, site_seq, ts, kind, operation, card_serial, reader, actor, intent_id, "
          "outcome, sequence, error_code, detail")


@pytest.fixture
def seal(demo_home) -> KeySeal:  # noqa: F811
    keys = load_keys(demo_home)
    return KeySeal(keys.signer, keys.trust)


def _checkpoint_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT site_id, site_seq, hash, verified_at, signature "
                            "FROM audit_checkpoint ORDER BY site_id, site_seq").fetchall()


def _as_owner(url: str, *statements: tuple) -> None:
    """Statements run with the append-only triggers off (what the database owner can do)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("audit", "audit_checkpoint"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(*statement)
        for table in ("audit", "audit_checkpoint"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _rewrite_site_a_from_entry_5(url: str) -> bytes:
    """Entry 5 of site-a forged and every later hash recomputed (each link holds); returns
    the forged chain's last hash."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT id, {FIELDS}, hash FROM audit WHERE site_id = 'site-a' "
                            "ORDER BY site_seq").fetchall()
    prev, statements = bytes(rows[3][14]), []
    for row in rows[4:]:
        values = list(row[1:14])
        if values[1] == 5:
            values[12] = '{"i":"forged"}'
        digest = hashlib.sha256(prev + canonical_pg(tuple(values))).digest()
        statements.append((("UPDATE audit SET detail = %s, prev_hash = %s, hash = %s "
                           "WHERE id = %s"), (values[12], prev, digest, row[0])))
        prev = digest
    _as_owner(url, *statements)
    return prev


def test_recorded_checkpoints_are_signed_and_trusted(county, seal):  # noqa: F811
    url, logs = county
    first = logs["site-a"].verify(seal=seal)
    assert first.ok and first.checked_from == dict.fromkeys(SITES, 1)
    rows = _checkpoint_rows(url)
    assert [(r[0], r[1]) for r in rows] == [(s, 20) for s in SITES]
    for site, seq, entry_hash, verified_at, signature in rows:
        checkpoint = Checkpoint(site, seq, bytes(entry_hash), verified_at)
        assert seal.check(checkpoint, bytes(signature)) is None
        assert seal.check(Checkpoint(site, seq + 1, bytes(entry_hash), verified_at),
                          bytes(signature)).startswith("signature does not check")
    again = logs["site-b"].verify(seal=seal)
    assert again.ok and again.checked_from == dict.fromkeys(SITES, 20)


def test_an_unsigned_checkpoint_is_not_trusted(county, seal):  # noqa: F811
    """Recorded without keys (or before schema v4): with the keys at hand, each chain is
    checked once from its first entry. A checkpoint is never rewritten (the unsigned one at
    the chain's last entry stays), so a chain that has not grown gets its signed checkpoint
    at the entry before; one that has grown, at its new last entry."""
    url, logs = county
    assert logs["site-a"].verify().ok  # no seal: unsigned checkpoints
    assert all(r[4] is None for r in _checkpoint_rows(url))
    assert logs["site-a"].verify().checked_from == dict.fromkeys(SITES, 20)
    sealed = logs["site-a"].verify(seal=seal)
    assert sealed.ok and sealed.checked_from == dict.fromkeys(SITES, 1)
    rows = {(r[0], r[1]): r[4] for r in _checkpoint_rows(url)}
    assert all(rows[(s, 20)] is None and rows[(s, 19)] is not None for s in SITES)
    assert logs["site-b"].verify(seal=seal).checked_from == dict.fromkeys(SITES, 19)
    logs["site-c"].event(operation="revoke", card_serial=None, actor="c", detail={}, now=NOW)
    assert logs["site-a"].verify(seal=seal).ok  # site-c's checkpoint at 21 is signed
    assert logs["site-a"].verify(seal=seal).checked_from == {"site-a": 19, "site-b": 19,
                                                              "site-c": 21}
    assert logs["site-a"].verify(seal=seal).ok


def test_no_free_entry_means_no_new_checkpoint(county, seal):  # noqa: F811
    """Unsigned checkpoints at every entry of a chain leave no entry to sign: the verify
    still checks the chain from its first entry and records nothing new."""
    url, logs = county
    with psycopg.connect(url) as conn:
        hashes = conn.execute("SELECT site_seq, hash FROM audit WHERE site_id = 'site-a' "
                              "ORDER BY site_seq").fetchall()
    _as_owner(url, *[(("INSERT INTO audit_checkpoint (site_id, site_seq, hash, verified_from, "
                       "verified_at, verified_by) VALUES ('site-a', %s, %s, 1, 'then', 'x')"),
                      (seq, entry_hash)) for seq, entry_hash in hashes])
    before = len(_checkpoint_rows(url))
    for _ in range(2):
        result = logs["site-a"].verify(seal=seal)
        assert result.ok and result.checked_from["site-a"] == 1
    signed = [r for r in _checkpoint_rows(url) if r[0] == "site-a" and r[4] is not None]
    assert signed == [] and len(_checkpoint_rows(url)) == before + len(SITES) - 1  # b, c at 20


def test_a_rewritten_chain_with_a_new_unsigned_checkpoint_is_caught(county, seal):  # noqa: F811
    """The owner rewrites site-a from entry 5 on (every hash recomputed) and adds a newer,
    unsigned checkpoint for the forged tail: the signed one at entry 20 still binds it."""
    url, logs = county
    assert logs["site-a"].verify(seal=seal).ok
    logs["site-a"].event(operation="revoke", card_serial=None, actor="a", detail={}, now=NOW)
    forged = _rewrite_site_a_from_entry_5(url)
    _as_owner(url, (("INSERT INTO audit_checkpoint (site_id, site_seq, hash, verified_from, "
                    "verified_at, verified_by) VALUES ('site-a', 21, %s, 1, %s, 'site-a')"),
                    (forged, "2026-03-02T00:00:00.000000+00:00")))
    assert logs["site-b"].verify(record=False).ok  # without the keys it is believed
    for full in (False, True):
        result = logs["site-b"].verify(full=full, seal=seal, record=False)
        assert (result.ok, result.site) == (False, "site-a")
        assert result.reason == "hash differs from the checkpoint at entry 20"


def test_a_deleted_signed_checkpoint_is_caught_by_the_anchor(county, seal):  # noqa: F811
    """A signature cannot stop a deletion: with site-a's checkpoints gone, its rewritten chain
    passes a check from entry 1. The checkpoint the verifying PC kept (its anchor) catches it."""
    url, logs = county
    assert logs["site-a"].verify(seal=seal).ok
    anchors = logs["site-a"].checkpoints(seal)
    assert anchors == logs["site-a"].checkpoints() and set(anchors) == set(SITES)
    _rewrite_site_a_from_entry_5(url)
    _as_owner(url, ("DELETE FROM audit_checkpoint WHERE site_id = 'site-a'",))
    alone = logs["site-b"].verify(seal=seal, record=False)
    assert alone.ok and alone.checked_from["site-a"] == 1  # the limit of signatures alone
    for full in (False, True):
        result = logs["site-b"].verify(full=full, seal=seal, anchors=anchors, record=False)
        assert (result.ok, result.site) == (False, "site-a")
        assert result.reason == "hash differs from the checkpoint at entry 20"
    _as_owner(url, ("DELETE FROM audit WHERE site_id = 'site-c' AND site_seq > 15",),
              ("DELETE FROM audit_checkpoint WHERE site_id = 'site-c'",))
    cut = logs["site-b"].verify(seal=seal, anchors={"site-c": anchors["site-c"]}, record=False)
    assert (cut.ok, cut.reason) == (False, ("chain of site site-c ends at entry 15, before its "
                                           "checkpoint at entry 20"))


def test_a_checkpoint_with_a_forged_signature_is_refused(county, seal):  # noqa: F811
    url, logs = county
    assert logs["site-a"].verify(seal=seal).ok
    _as_owner(url, ("UPDATE audit_checkpoint SET site_seq = 19 WHERE site_id = 'site-b'",))
    result = logs["site-a"].verify(seal=seal)
    assert not result.ok
    assert result.reason.startswith("checkpoint of site site-b at entry 19: signature does "
                                    "not check")


def test_audit_verify_signs_keeps_anchors_and_catches_a_deleted_checkpoint(
        county, tmp_path, monkeypatch, capsys):  # noqa: F811
    """`cardservice audit verify` on PostgreSQL with the site's keys: signed checkpoints, the
    anchors kept in the data directory, and a rewrite hidden by deleting checkpoints found."""
    url, _ = county
    home = tmp_path / "county-home"
    monkeypatch.setenv("CARDSERVICE_DATABASE_URL", url)
    monkeypatch.setenv("CARDSERVICE_SITE_ID", "county")

    def verify() -> tuple[int, dict]:
        try:
            main(["--home", str(home), "audit", "verify", "--json"])
            code = 0
        except SystemExit as exc:
            code = exc.code
        return code, json.loads(capsys.readouterr().out)

    main(["--home", str(home), "keys", "init", "--demo"])
    capsys.readouterr()
    code, first = verify()
    assert code == 0 and first["ok"]
    rows = _checkpoint_rows(url)
    assert rows and all(r[4] is not None for r in rows)
    kept = json.loads((home / "audit-anchors.json").read_text())
    assert kept == {site: [20, bytes(h).hex()] for site, _, h, _, _ in
                    (r for r in rows if r[1] == 20)}
    _rewrite_site_a_from_entry_5(url)
    _as_owner(url, ("DELETE FROM audit_checkpoint WHERE site_id = 'site-a'",))
    code, broken = verify()
    assert code == EXIT_CONFLICT and (broken["ok"], broken["site"]) == (False, "site-a")
    assert broken["reason"] == "hash differs from the checkpoint at entry 20"
