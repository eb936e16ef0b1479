"""Pairing on both backends (``backend``: SQLite and PostgreSQL): the whole flow, one open
request per code, and the compare-and-set of a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cardservice.pairing import PairingService
from cardservice.store.pairing import PairingRequest, PairingStore
from cardservice.store.tokens import TokenStore
from tests.clock import Clock

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _request(store: PairingStore, code: str, request_id: str) -> PairingRequest:
    req = PairingRequest(id=request_id, code=code, app_name="app", status="pending", role=None,
                         created_at=NOW, expires_at=NOW + timedelta(minutes=5), decided_at=None,
                         decided_by=None, token_id=None)
    store.insert(req)
    return req


def test_flow_on_each_backend(backend):
    clock = Clock(NOW)
    audit = backend.stores().audit()
    service = PairingService(PairingStore(backend.database("pairing")),
                             TokenStore(backend.database("tokens")), lambda: audit, clock)
    req = service.request("Counter 1")
    assert [r.code for r in service.pending()] == [req.code]
    service.approve(req.code, "operator", actor="clerk")
    clock.advance(seconds=3)
    first = service.poll(req.id)
    assert first.status == "approved" and first.token and first.role == "operator"
    assert service.poll(req.id).token is None
    assert service.tokens.authenticate(first.token).name == f"Counter 1 [{req.code}]"
    late = service.request("Counter 2")
    clock.advance(minutes=6)
    assert service.poll(late.id).status == "expired"
    ops = [e.operation for e in audit.entries(limit=20)]
    assert sorted(ops) == sorted(["pairing_requested", "pairing_approved", "pairing_token_issued",
                                  "pairing_requested", "pairing_expired"])


def test_one_open_request_per_code(backend):
    store = PairingStore(backend.database("pairing"))
    _request(store, "ABC-DEF", "pr_1")
    with pytest.raises(store.database.IntegrityError):
        _request(store, "ABC-DEF", "pr_2")
    assert store.transition("pr_1", "pending", "denied", NOW, by="clerk")
    assert not store.transition("pr_1", "pending", "approved", NOW, role="reader")
    _request(store, "ABC-DEF", "pr_3")  # a decided request frees its code
    assert store.open_by_code("ABC-DEF").id == "pr_3"
    assert store.created_since(NOW - timedelta(seconds=1)) == 2  # pr_2 was refused
