"""The registry's revoked serials (what the county's trust bundle lists), on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cardservice.store.registry import CardStatus, Registry

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CARDS = {"0123456789abcdef": "11010519491231002X", "fedcba9876543210": "440524188001010014",
         "00000000000000aa": "110105199001011232"}


def test_revoked_serials_lists_every_card_not_active(backend):
    reg = Registry(backend.database("registry"))
    assert reg.revoked_serials() == []
    for serial, citizen in CARDS.items():
        reg.record_issue(serial=serial, citizen_number=citizen, sequence=1,
                         issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                         expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW)
    reg.revoke("FEDCBA9876543210", "lost", NOW)
    reg.revoke("00000000000000aa", "withdrawn", NOW)
    assert reg.revoked_serials() == ["00000000000000aa", "fedcba9876543210"]


def test_a_produced_card_is_not_listed_as_revoked(backend):
    """A card handed over after the bundle was built must not read revoked offline."""
    reg = Registry(backend.database("registry"))
    reg.record_issue(serial="00000000000000bb", citizen_number="110105199001021238", sequence=1,
                     issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                     expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW,
                     status=CardStatus.PRODUCED)
    reg.record_issue(serial="00000000000000cc", citizen_number="110105199001031233", sequence=1,
                     issuing_authority="示范县公安局", permit_type="temporary", basis=None,
                     expires_on=date(2026, 9, 1), sponsor_citizen_number=None, now=NOW)
    reg.revoke("00000000000000cc", "replaced", NOW)
    assert reg.revoked_serials() == ["00000000000000cc"]
