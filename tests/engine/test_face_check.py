"""The card face is checked before anything is written: a field that cannot be printed on its
side is a VALIDATION_ERROR naming it, the card stays as it was and the audit log holds nothing."""

from __future__ import annotations

import json

import pytest

from cardservice import errors
from cardservice.engine.operations import Engine, PermitRequest
from cardservice.engine.verify import Status
from cardservice.face import Face
from cardservice.face.layout import DEFAULT_LAYOUT, load_layout

from .conftest import identity, temporary


def test_issue_refuses_a_name_that_fits_at_no_size_before_writing(engine, conn):
    with pytest.raises(errors.ValidationError) as caught:
        engine.issue(conn, identity(name="W" * 60), temporary())
    assert caught.value.field == "name" and caught.value.reason == "does_not_fit"
    assert caught.value.to_dict()["code"] == "VALIDATION_ERROR"
    assert engine.read(conn).report.status == Status.BLANK
    assert engine.audit.count() == 0


def test_issue_refuses_a_residence_with_no_glyph(engine, conn):
    with pytest.raises(errors.ValidationError) as caught:
        engine.issue(conn, identity(), temporary("北京市\U0003134A路1号"))
    assert caught.value.field == "current_residence" and caught.value.reason == "no_glyph"
    assert engine.read(conn).report.status == Status.BLANK


def test_resign_refuses_a_residence_that_fits_at_no_size_and_keeps_the_card(engine, conn):
    issued = engine.issue(conn, identity(), temporary())
    entries = engine.audit.count()
    with pytest.raises(errors.ValidationError) as caught:
        engine.resign(conn, PermitRequest(current_residence="W" * 140))
    assert caught.value.field == "current_residence"
    after = engine.read(conn)
    assert after.report.record == issued.report.record and after.report.status == Status.VALID
    assert engine.audit.count() == entries


def test_a_county_layout_in_the_data_directory_replaces_the_default(engine, conn, tmp_path):
    data = json.loads(DEFAULT_LAYOUT.read_text(encoding="utf-8"))
    data["sides"]["front"]["fields"]["name"]["box"][2] = 12.0  # a narrow name box: 4 characters
    (tmp_path / "face-layout.json").write_text(json.dumps(data), encoding="utf-8")
    assert load_layout(tmp_path).source == tmp_path / "face-layout.json"
    county = Engine(engine.keys, engine.registry, engine.audit, clock=engine.clock,
                    face=Face(home=tmp_path))
    with pytest.raises(errors.ValidationError) as caught:
        county.issue(conn, identity(name="欧阳" + "明" * 13), temporary())
    assert caught.value.field == "name"
    assert county.issue(conn, identity(name="张三"), temporary()).report.status == Status.VALID


def test_a_broken_county_layout_is_face_unavailable(engine, conn, tmp_path):
    (tmp_path / "face-layout.json").write_text('{"layout": "rp1-face/1"}', encoding="utf-8")
    county = Engine(engine.keys, engine.registry, engine.audit, clock=engine.clock,
                    face=Face(home=tmp_path))
    with pytest.raises(errors.FaceUnavailableError) as caught:
        county.issue(conn, identity(), temporary())
    assert "face-layout.json" in caught.value.message
    assert county.read(conn).report.status == Status.BLANK
