"""Every bad-input case of threats.md returns its clear error (status, stable code, the field or
rule named) and writes nothing: both cards unchanged, the registry unchanged, no new audit
success (and no audit intent at all: input is refused before any card write is planned)."""

from __future__ import annotations

import pytest

from tests.api.conftest import ALICE, BOB, READER_A, READER_B, SERIAL_A, issue_body

from .conftest import snapshot

FULL_WIDTH = "１１０１０５１９９００１０１１２３２"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(first17: str) -> str:
    """GB 11643 check digit (ISO 7064 MOD 11-2), so only the tested defect is wrong."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def bob(**kw) -> dict:
    return {**BOB, **kw}


# (case id, reader, action, body, status, code, field, rule)
ISSUE_CASES = [
    ("name-cjk-over-60-bytes", issue_body(bob(name="张" * 21)), "identity.name", None, "60"),
    ("name-non-bmp-over-60-bytes", issue_body(bob(name="𠀀" * 16)), "identity.name", None, "60"),
    ("address-over-140-bytes", issue_body(bob(household_address="北" * 47)),
     "identity.household_address", None, "140"),
    ("residence-over-140-bytes", issue_body(BOB, current_residence="路" * 47),
     "current_residence", None, "140"),
    ("citizen-wrong-check-digit", issue_body(bob(citizen_number="110105199001011231")),
     "identity.citizen_number", None, None),
    ("citizen-impossible-birth-date",
     issue_body(bob(citizen_number=with_check_digit("11010519900230123"))),
     "identity.citizen_number", None, None),
    ("citizen-full-width-digits", issue_body(bob(citizen_number=FULL_WIDTH)),
     "identity.citizen_number", None, None),
    ("expiry-in-past", issue_body(BOB, expires_on="2026-01-01"), None, "expiry_in_past", None),
    ("temporary-beyond-6-months", issue_body(BOB, expires_on="2027-12-01"), None,
     "temporary_max_6_months", None),
    ("long-term-without-basis", issue_body(BOB, permit_type="long_term"), None,
     "long_term_requires_basis", None),
    ("family-sponsor-basis-2", issue_body(BOB, permit_type="long_term",
                                          sponsor_citizen_number=ALICE["citizen_number"]),
     None, "sponsor_basis_not_eligible", None),
]
REWRITE_CASES = [
    ("resign-residence-over-140-bytes", "resign", {"current_residence": "路" * 47},
     "current_residence", None, "140"),
    ("resign-control-character", "resign", {"current_residence": "幸福路\u202e1号"},
     "current_residence", None, None),
    ("renew-long-term-beyond-2-years", "renew", {"expires_on": "2029-12-01"}, None,
     "long_term_max_2_years", None),
    ("renew-expiry-in-past", "renew", {"expires_on": "2025-05-01"}, None, "expiry_in_past", None),
]


@pytest.fixture
def issued(daemon):
    """Card A issued to ALICE, long-term on basis 2 (not a basis that can sponsor family)."""
    r = daemon.issue(READER_A, issue_body(ALICE, permit_type="long_term", basis=2, evidence={
        "kind": "labour_contract", "reference": "L-2026-1"}))
    assert r.status_code == 200, r.text
    return daemon


def _state(daemon) -> tuple:
    audit, registry = daemon.runtime.audit(), daemon.runtime.registry()
    return tuple(snapshot(daemon.backend.slots[r], registry, audit) for r in (READER_A, READER_B))


def _assert_refused(daemon, response, status, code, field, rule, limit, before) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert error["field"].endswith(field), error
    if rule is not None:
        assert error["rule"] == rule, error
    if limit is not None:
        assert f"limit is {limit} bytes" in error["message"], error
    assert _state(daemon) == before, "a refused request changed a card, the registry or the audit"


@pytest.mark.parametrize("body,field,rule,limit", [c[1:] for c in ISSUE_CASES],
                         ids=[c[0] for c in ISSUE_CASES])
def test_bad_issue_input_is_422_and_writes_nothing(issued, body, field, rule, limit):
    before = _state(issued)
    r = issued.issue(READER_B, body)
    code = "VALIDATION_ERROR" if field else "POLICY_VIOLATION"
    _assert_refused(issued, r, 422, code, field, rule, limit, before)


@pytest.mark.parametrize("action,body,field,rule,limit", [c[1:] for c in REWRITE_CASES],
                         ids=[c[0] for c in REWRITE_CASES])
def test_bad_rewrite_input_is_422_and_writes_nothing(issued, action, body, field, rule, limit):
    before = _state(issued)
    r = issued.client.post(issued.url(READER_A, action), json={**body, "card_serial": SERIAL_A},
                           headers=issued.auth())
    code = "VALIDATION_ERROR" if field else "POLICY_VIOLATION"
    _assert_refused(issued, r, 422, code, field, rule, limit, before)


def test_second_card_for_a_citizen_is_refused_and_writes_nothing(issued):
    before = _state(issued)
    r = issued.issue(READER_B, issue_body(ALICE))
    _assert_refused(issued, r, 409, "CITIZEN_HAS_CARD", None, None, None, before)


@pytest.mark.parametrize("headers,status,code", [
    ({"Host": "evil.example:8765"}, 403, "HOST_NOT_ALLOWED"),
    ({"Origin": "https://evil.example"}, 403, "ORIGIN_NOT_ALLOWED"),
    ({"Content-Type": "text/plain"}, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"Authorization": "Bearer cs_not-a-token"}, 401, "UNAUTHENTICATED"),
], ids=["foreign-host", "foreign-origin", "text-plain-body", "wrong-token"])
def test_refused_requests_write_nothing(issued, headers, status, code):
    before = _state(issued)
    apdus = dict(issued.backend.apdus)
    r = issued.client.post(issued.url(READER_A, "resign"), content=b'{"current_residence": "x", "card_serial": "%s"}' % SERIAL_A.encode(),
                           headers={**issued.auth(), "Content-Type": "application/json",
                                    **headers})
    _assert_refused(issued, r, status, code, None, None, None, before)
    assert issued.backend.apdus == apdus, "refused before any card I/O"


def test_read_only_client_cannot_write(issued):
    before = _state(issued)
    r = issued.client.post(issued.url(READER_A, "resign"), json={"current_residence": "x", "card_serial": SERIAL_A},
                           headers=issued.auth("reader"))
    _assert_refused(issued, r, 403, "FORBIDDEN", None, None, None, before)


def test_budget_counts_nfc_bytes(daemon):
    """"é" typed decomposed (e + U+0301, 3 bytes) is stored composed (2 bytes): 30 of them fit
    the 60-byte name budget only because the input is normalised to NFC first."""
    r = daemon.issue(READER_B, issue_body(bob(name="e\u0301" * 30)))
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["name"] == "\u00e9" * 30
