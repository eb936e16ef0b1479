"""Applications and an in-memory registry view for the pure workflow tests."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from card_layout.identity import Identity
from cardservice.engine.policy import Evidence
from cardservice.store.registry import CardRow, CardStatus
from cardservice.workflow.model import Application, Family, Kind, Replacement, Residence

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
ALICE = {"name": "张三", "gender": "female", "nationality": "01",
         "citizen_number": "11010519491231002X", "household_address": "北京市朝阳区建国路88号"}
BOB = {"name": "李四", "gender": "male", "nationality": "01",
       "citizen_number": "110105199001011232",
       "household_address": "新疆维吾尔自治区博州博乐市青得里大街1号"}


def application(kind: Kind = Kind.FIRST_ISSUE, identity: dict | None = None, **changes) -> Application:
    app = Application(
        id="A1", kind=kind, identity=dict(identity or BOB),
        residence=Residence("博乐市青得里街道团结路12号", "temporary"),
        site="site-a", submitted_at=NOW, submitted_by="clerk", due_on=date(2026, 12, 7))
    return dataclasses.replace(app, **changes)


LEASE = Evidence("lease_contract", "HT-1")


def long_term(basis: int = 1, evidence: Evidence | None = LEASE, **changes) -> Application:
    return application(residence=Residence("博乐市某小区1栋", "long_term", basis),
                       evidence=evidence, **changes)


def family(relationship: str = "spouse", sponsor: str = ALICE["citizen_number"]) -> Application:
    return application(Kind.FAMILY, residence=Residence("博乐市某小区1栋", "long_term"),
                       family=Family(sponsor, relationship))


def replacement(serial: str = "00000000000000a1", reason: str = "lost", **identity) -> Application:
    return application(Kind.REPLACEMENT, identity={**BOB, **identity},
                       replacement=Replacement(serial, reason))


def card(serial: str, citizen_number: str, *, permit_type: str = "long_term", basis: int | None = 1,
         status: CardStatus = CardStatus.ACTIVE, sponsor: str | None = None,
         expires_on: date = date(2028, 3, 15)) -> CardRow:
    return CardRow(serial, citizen_number, status, 1, "示范县公安局", permit_type, basis,
                   expires_on, sponsor, None, NOW, NOW)


@dataclasses.dataclass
class FakeLookups:
    """An in-memory registry and application list (behaves like the stores, for pure tests)."""

    cards: list[CardRow] = dataclasses.field(default_factory=list)
    identities: dict[str, Identity] = dataclasses.field(default_factory=dict)
    open_apps: dict[str, str] = dataclasses.field(default_factory=dict)

    def active_card(self, citizen_number: str) -> CardRow | None:
        return next((c for c in self.cards if c.citizen_number == citizen_number
                     and c.status is CardStatus.ACTIVE), None)

    def card(self, serial: str) -> CardRow | None:
        return next((c for c in self.cards if c.serial == serial), None)

    def identity_of_card(self, serial: str) -> Identity | None:
        return self.identities.get(serial)

    def open_application(self, citizen_number: str, *, other_than: str | None) -> str | None:
        found = self.open_apps.get(citizen_number)
        return None if found == other_than else found
