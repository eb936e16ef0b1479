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


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_policy_rule_and_registry_reason_has_a_message(lang):
    from cardservice.engine.policy import RULES
    from cardservice.engine.report import NOT_CHECKED_REGISTRY, REGISTRY_UNAVAILABLE

    own = catalogue(lang)
    assert [r for r in RULES if f"rule.{r}" not in own] == []
    assert own[f"reason.{NOT_CHECKED_REGISTRY}"] != own[f"reason.{REGISTRY_UNAVAILABLE}"]
