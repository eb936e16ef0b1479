"""`cardservice reconcile`: reservations whose card write never confirmed are listed once
expired, and an operator can release one (recorded in the audit log)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cardservice.cli.main import main
from cardservice.store.audit import AuditLog
from cardservice.store.registry import Registry, Terms

SERIAL = "00000000000000c1"


def test_reconcile_lists_and_releases_an_expired_reservation(tmp_path, capsys):
    home = tmp_path / "home"
    registry = Registry(home / "registry.db")
    registry.reserve(serial=SERIAL, citizen_number="11010519491231002X", sequence=1,
                     terms=Terms("a", "temporary", None, date(2027, 1, 1)),
                     sponsor_citizen_number=None, now=datetime.now(UTC) - timedelta(hours=1))
    main(["--home", str(home), "reconcile", "--older-than", "120"])
    assert capsys.readouterr().out.startswith("0 expired reservation(s)")
    main(["--home", str(home), "reconcile"])
    out = capsys.readouterr().out
    assert out.startswith("1 expired reservation(s), 0 pending reservation(s), 0 pending intent(s)")
    assert f"card {SERIAL}  pending  sequence 1 reserved by local" in out
    main(["--home", str(home), "reconcile", "--release", SERIAL])
    assert "pending issue removed" in capsys.readouterr().out
    assert registry.get(SERIAL) is None
    events = AuditLog(home / "audit.db").entries(limit=5)
    assert [(e.operation, e.card_serial) for e in events] == [("release_reservation", SERIAL)]


def test_reconcile_lists_pending_reservations_and_releases_the_expired_ones(tmp_path, capsys):
    home = tmp_path / "home"
    registry = Registry(home / "registry.db")
    terms = Terms("a", "temporary", None, date(2027, 1, 1))
    for serial, citizen, age in ((SERIAL, "11010519491231002X", 60),
                                 ("00000000000000c2", "110105199001011232", 1)):
        registry.reserve(serial=serial, citizen_number=citizen, sequence=1, terms=terms,
                         sponsor_citizen_number=None, now=datetime.now(UTC) - timedelta(minutes=age))
    main(["--home", str(home), "reconcile", "--release-expired"])
    out = capsys.readouterr().out
    assert out.startswith("1 expired reservation(s) released\n0 expired reservation(s), "
                          "1 pending reservation(s)")
    assert "pending card 00000000000000c2" in out
    assert registry.get(SERIAL) is None and registry.get("00000000000000c2") is not None
    [event] = AuditLog(home / "audit.db").entries(limit=5)
    assert (event.operation, event.card_serial, event.actor) == (
        "release_reservation", SERIAL, "cli")
