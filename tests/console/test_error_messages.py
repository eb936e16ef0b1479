"""Errors are described from their code, except a case whose code's general message would
misdescribe it (another site's application, a produced card not handed over)."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.console.i18n import Translator, catalogue


@pytest.mark.parametrize(("exc", "key"), [
    (errors.OtherSiteError("x"), "error.other_site"),
    (errors.NotHandedOverError("x"), "error.not_handed_over"),
    (errors.ApplicationStateError("x"), "error.APPLICATION_STATE"),
    (errors.VerifyOnlyError("x"), "error.FORBIDDEN"),
])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_each_error_gets_its_message(exc, key, lang):
    assert key in catalogue(lang)
    assert Translator(lang).describe(exc) == (None, catalogue(lang)[key])
