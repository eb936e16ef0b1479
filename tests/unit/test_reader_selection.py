"""CARDSERVICE_READERS: parsing, matching, and the daemon's setting."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.config import Settings
from cardservice.engine.service import Service
from cardservice.transport.selection import (
    EVERY_READER,
    ReaderSelection,
    parse_readers,
    selection_from_env,
)

READERS = ["ACS ACR39U ICC Reader 00 00", "ACS ACR39U ICC Reader 01 00", "Virtual PCD 00 00"]


@pytest.mark.parametrize("raw", [None, "", "  ", "[]"])
def test_unset_or_empty_means_every_reader(raw):
    selection = parse_readers(raw)
    assert selection.patterns == () and selection.filter(READERS) == READERS


def test_exact_names_and_shell_patterns():
    selection = parse_readers('["ACS ACR39U*", "Virtual PCD 00 0[1-9]"]')
    assert selection.filter(READERS) == READERS[:2]
    assert selection.allows("Virtual PCD 00 01") and not selection.allows("Virtual PCD 00 00")
    assert parse_readers('["Virtual PCD 00 00"]').filter(READERS) == ["Virtual PCD 00 00"]


def test_matching_is_case_sensitive_and_whole_name():
    selection = ReaderSelection(("acs acr39u*",))
    assert selection.filter(READERS) == []
    assert not ReaderSelection(("ACS",)).allows(READERS[0]), "a pattern matches the whole name"


@pytest.mark.parametrize("raw", ["ACS ACR39U*", '"ACS"', "{}", '["a", 3]', '[""]', "[1"])
def test_a_bad_value_is_a_validation_error_naming_the_variable(raw):
    with pytest.raises(errors.ValidationError) as caught:
        parse_readers(raw)
    assert caught.value.field == "readers" and caught.value.reason == "bad_value"
    assert "CARDSERVICE_READERS" in caught.value.message or "reader pattern" in caught.value.message


def test_check_refuses_another_reader_as_not_found():
    selection = ReaderSelection(("Virtual PCD 00 00",))
    selection.check("Virtual PCD 00 00")
    with pytest.raises(errors.ReaderNotFoundError, match="CARDSERVICE_READERS"):
        selection.check("Virtual PCD 00 01")
    EVERY_READER.check("anything")


def test_the_cli_and_the_daemon_read_the_same_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CARDSERVICE_READERS", '["Virtual PCD 00 0*"]')
    assert selection_from_env().patterns == ("Virtual PCD 00 0*",)
    assert Settings(home=tmp_path).reader_selection == selection_from_env()
    assert Service.open(tmp_path).readers == selection_from_env()
    monkeypatch.setenv("CARDSERVICE_READERS", "Virtual PCD 00 00")
    with pytest.raises(ValueError, match="must be a JSON list"):
        Settings(home=tmp_path)
    with pytest.raises(errors.ValidationError):
        Service.open(tmp_path)


def test_settings_take_a_list_in_code(tmp_path):
    settings = Settings(home=tmp_path, readers=["Virtual PCD 00 00"])
    assert settings.reader_selection.filter(READERS) == ["Virtual PCD 00 00"]
    with pytest.raises(ValueError, match="non-empty string"):
        Settings(home=tmp_path, readers=["ok", " "])
