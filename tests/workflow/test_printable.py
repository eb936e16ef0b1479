"""An application whose identity or residence the card face cannot print is refused at the
counter (submission) and again at certification (the county centre's face), not when its card
is produced: VALIDATION_ERROR naming the field, reason no_glyph or does_not_fit; nothing stored."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.face import Face
from cardservice.workflow.model import Residence, State
from tests.face_layouts import EXT_B_NAME, without_fallback_font
from tests.workflow_fixtures import BOB

from .conftest import CERTIFIER, CLERK, World, draft

#: CJK Extension G: no font of the default layout has it
NO_GLYPH = "\U00030000"


@pytest.fixture
def face_world(world: World) -> World:
    world.service.face = Face()  # the default layout, as a data directory without its own
    return world


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"name": "王" + NO_GLYPH}, "identity.name", "no_glyph"),
    ({"household_address": "示范县城关镇" + NO_GLYPH + "路1号"}, "identity.household_address",
     "no_glyph"),
    ({"name": "W" * 60}, "identity.name", "does_not_fit"),  # the card's 60-byte budget takes it
])
def test_an_identity_the_face_cannot_print_is_refused_at_submission(
        face_world: World, changes: dict, field: str, reason: str) -> None:
    with pytest.raises(errors.ValidationError) as exc:
        face_world.service.submit(draft({**BOB, **changes}), CLERK)
    assert (exc.value.field, exc.value.reason) == (field, reason)
    assert face_world.service.find() == []  # nothing stored


def test_a_residence_the_face_cannot_print_is_refused_at_submission(face_world: World) -> None:
    app = draft(BOB, residence=Residence("示范县" + NO_GLYPH + "路1号", "temporary"))
    with pytest.raises(errors.ValidationError) as exc:
        face_world.service.submit(app, CLERK)
    assert (exc.value.field, exc.value.reason) == ("residence.current_residence", "no_glyph")
    assert "U+30000" in exc.value.message
    assert face_world.service.find() == []


def test_a_name_outside_the_bmp_that_a_font_has_is_accepted(face_world: World) -> None:
    app = face_world.service.submit(draft({**BOB, "name": "王\U00020000明"}), CLERK)
    assert app.status is State.SUBMITTED


def test_certification_checks_with_the_county_centres_face(world: World, tmp_path) -> None:
    """Submitted at a site whose face prints it; the centre's face (its own layout, without
    the fallback fonts) cannot: certification refuses, the application stays audited."""
    app = world.service.submit(draft({**BOB, "name": EXT_B_NAME}), CLERK)
    world.service.decide(app.id, "audit", True, None, CLERK)
    world.service.face = without_fallback_font(tmp_path)
    with pytest.raises(errors.ValidationError) as exc:
        world.service.decide(app.id, "certify", True, None, CERTIFIER)
    assert (exc.value.field, exc.value.reason) == ("identity.name", "no_glyph")
    assert world.service.get(app.id).status is State.AUDITED


def test_a_face_that_cannot_be_used_is_face_unavailable(world: World, tmp_path) -> None:
    (tmp_path / "face-layout.json").write_text('{"layout": "rp1-face/1"}', encoding="utf-8")
    world.service.face = Face(home=tmp_path)
    with pytest.raises(errors.FaceUnavailableError):
        world.service.submit(draft(BOB), CLERK)
    assert world.service.find() == []
