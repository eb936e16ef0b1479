"""Copies and offline rollback (issue 11, point 5) and the photo (issue 13, point 1), against
the in-process simulated card: the chip proves itself (chip_authentic), its own record-write
counter catches a rolled-back record without any registry (card_counter, rollback)."""

from __future__ import annotations

import hashlib
import random

import pytest

from card_layout.files import Fid, KeyRef
from card_layout.jpeg_sample import flat_jpeg
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Check, Result, Status
from cardservice.pki.keys import load_keys
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry
from simulator.card import VirtualCard
from simulator.clone import readable_copy
from simulator.inprocess import InProcessConnection
from tests.engine.conftest import identity, temporary

MOVE_RESIDENCE = PermitRequest(current_residence="博乐市南城街道幸福路3号")


@pytest.fixture
def offline(demo_home, tmp_path, clock) -> Engine:
    """A verifier with the trust store only: an empty registry of its own."""
    eng = Engine(load_keys(demo_home), Registry(tmp_path / "other.db"),
                 AuditLog(tmp_path / "other-audit.db"), clock=clock)
    yield eng
    eng.registry.close()
    eng.audit.close()


def checks(view) -> dict[str, tuple[str, str]]:
    return {c.check.value: (c.result.value, c.reason) for c in view.report.checks}


def test_issued_card_proves_its_chip_and_reports_its_counter(engine, conn, card):
    view = engine.issue(conn, identity(), temporary())
    assert view.report.status is Status.VALID
    assert view.report.identity.chip_public_key is not None
    assert card.image.counter == 1 and view.report.counter == 1
    got = checks(engine.read(conn))
    assert got["chip_authentic"] == ("succeeded", "ok")
    assert got["card_counter"] == ("succeeded", "ok")
    engine.resign(conn, MOVE_RESIDENCE)
    assert card.image.counter == 2
    assert engine.read(conn).report.record.sequence == 2


def test_copy_of_the_readable_bytes_reads_invalid(engine, offline, conn, card):
    engine.issue(conn, identity(), temporary())
    copy = VirtualCard(readable_copy(card.image), rng=random.Random(1))
    assert copy.image.serial == card.image.serial
    for verifier in (engine, offline):
        view = verifier.read(InProcessConnection(copy))
        assert view.report.status is Status.INVALID
        assert checks(view)["chip_authentic"] == ("failed", "bad_signature")
        assert checks(view)["identity_signature"] == ("succeeded", "ok")


def test_copy_refused_for_a_resign(engine, conn, card):
    from cardservice import errors

    engine.issue(conn, identity(), temporary())
    copy = VirtualCard(readable_copy(card.image), rng=random.Random(1))
    with pytest.raises(errors.CardInvalidError):
        engine.resign(InProcessConnection(copy), MOVE_RESIDENCE)


def test_offline_rollback_by_corrupting_the_current_slot(engine, offline, conn, card):
    """One flipped byte in the current slot makes the older, validly signed slot current; the
    card's counter says a newer record was written: rollback, with no registry."""
    engine.issue(conn, identity(), temporary())
    moved = engine.resign(conn, MOVE_RESIDENCE)
    current = moved.report.current_slot
    card.image.files[current].memory[10] ^= 0xFF
    view = offline.read(conn)
    assert view.registry is None
    assert view.report.record.sequence == 1
    assert view.report.status is Status.INVALID
    assert checks(view)["card_counter"] == ("failed", "sequence_below_counter")
    assert checks(view)["rollback"] == ("failed", "sequence_below_counter")


def test_old_record_written_back_with_the_write_key_reads_rollback(engine, offline, conn, card):
    """Even whoever holds the write key cannot roll a card back: the write bumps the counter."""
    from cardservice.card.protocol import Rp1Card

    engine.issue(conn, identity(), temporary())
    first = bytes(card.image.files[Fid.RES_A].data)
    engine.resign(conn, MOVE_RESIDENCE)
    rp1 = Rp1Card(conn)
    rp1.select()
    rp1.authenticate(KeyRef.WRITE, engine.keys.card_key(KeyRef.WRITE, card.image.serial))
    rp1.erase_file(Fid.RES_B)  # the newer record gone, the old one rewritten in place
    rp1.write_file(Fid.RES_A, first, old_length=len(first))
    assert card.image.counter == 3
    view = offline.read(conn)
    assert view.report.record.sequence == 1
    assert checks(view)["rollback"] == ("failed", "sequence_below_counter")
    assert view.report.status is Status.INVALID


def test_card_of_the_first_format_still_reads_valid(engine, conn, card):
    """A card issued before chip keys (format version 1 identity, card OS without a counter)."""
    from card_layout.idfile import encode_identity_file
    from card_layout.slots import encode_slot
    from cardservice.pki.signing import sign_identity, sign_record

    engine.issue(conn, identity(), temporary())
    ident = identity()
    serial = card.image.serial
    id_sig = sign_identity(engine.keys.signer, serial, ident)
    record = engine.read(conn).report.record
    files = card.image.files
    for fid, data in ((Fid.ID, encode_identity_file(ident, id_sig)),
                      (Fid.RES_A, encode_slot(record, sign_record(engine.keys.signer, serial,
                                                                   id_sig, record)))):
        files[fid].memory[:] = bytes(len(files[fid].memory))
        files[fid].memory[:len(data)] = data
        files[fid].length = len(data)
    assert files[Fid.ID].data[2] == 1  # format version 1
    view = engine.read(conn)
    assert view.report.status is Status.VALID
    assert checks(view)["chip_authentic"] == ("not_checked", "no_chip_key")


# --- the photo ---------------------------------------------------------------------------


def test_photo_round_trip_and_binding(engine, conn, card):
    photo = flat_jpeg(102, 126, 90)
    view = engine.issue(conn, identity(), temporary(), photo=photo)
    assert view.report.identity.photo_sha256 == hashlib.sha256(photo).digest()
    assert card.image.files[Fid.ID].data[2] == 2  # format version 2
    plain = engine.read(conn)
    assert plain.report.status is Status.VALID and plain.report.photo is None
    full = engine.read(conn, photo=True)
    assert full.report.status is Status.VALID and full.report.photo == photo


def test_swapped_photo_reads_bad_signature(engine, conn, card):
    engine.issue(conn, identity(), temporary(), photo=flat_jpeg(102, 126, 90))
    other = flat_jpeg(102, 126, 91)
    ef = card.image.files[Fid.PHOTO]
    ef.memory[:] = bytes(len(ef.memory))
    ef.memory[:len(other)] = other
    ef.length = len(other)
    assert engine.read(conn).report.status is Status.VALID  # not asked: not read
    view = engine.read(conn, photo=True)
    assert view.report.status is Status.INVALID and view.report.photo is None
    assert view.report.check(Check.IDENTITY_SIGNATURE).result is Result.FAILED
    assert view.report.check(Check.IDENTITY_SIGNATURE).reason == "bad_signature"


def test_issue_without_photo_leaves_the_photo_file_empty(engine, conn, card):
    ef = card.image.files[Fid.PHOTO]
    ef.memory[:4] = b"junk"
    ef.length = 4
    view = engine.issue(conn, identity(), temporary())
    assert view.report.identity.photo_sha256 is None and ef.length == 0
    assert engine.read(conn, photo=True).report.photo is None
