"""A card write whose registry confirmation failed after the card was written (the database
went away in between): the answer is a retriable REGISTRY_UNAVAILABLE that says so, and the
write is recorded as landed, never as failed. Repeated with its Idempotency-Key, the request
writes nothing again: its first attempt is settled and the card answered as it is."""

from __future__ import annotations

import pytest

from cardservice import errors

from .conftest import SERIAL_A, Daemon, issue_body, running_daemon

MOVE = {"current_residence": "示范县新城街道和平路12号", "card_serial": SERIAL_A}


@pytest.fixture
def flaky_confirm(daemon: Daemon, monkeypatch):
    """Each item appended: the registry's confirmation of the next write fails once, as an
    unreachable database does."""
    registry = daemon.runtime.engine.registry
    real, failures = registry.confirm, []

    def confirm(**kw):
        if failures:
            failures.pop()
            raise errors.RegistryUnavailableError("the registry database is unreachable: gone")
        return real(**kw)

    monkeypatch.setattr(registry, "confirm", confirm)
    return failures


def _intents(daemon: Daemon) -> list[dict]:
    entries = daemon.client.get("/v1/audit", params={"limit": 100},
                                headers=daemon.auth("admin")).json()
    return [e for e in entries if e["kind"] == "intent" and e["operation"] == "resign"]


def _outcomes(daemon: Daemon) -> dict[int, str]:
    entries = daemon.client.get("/v1/audit", params={"limit": 100},
                                headers=daemon.auth("admin")).json()
    return {e["intent_id"]: e["outcome"] for e in entries if e["kind"] == "outcome"}


def test_a_keyed_resign_repeated_after_a_lost_confirmation_writes_once(daemon, flaky_confirm):
    assert daemon.issue().status_code == 200
    flaky_confirm.append(1)
    keyed = {**daemon.auth(), "Idempotency-Key": "move-1"}
    first = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert first.status_code == 503, first.text
    error = first.json()["error"]
    assert error["code"] == "REGISTRY_UNAVAILABLE" and error["retriable"] is True
    assert "the card was written and verified" in error["message"]

    again = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert again.status_code == 200, again.text
    card = again.json()
    assert card["residence"]["sequence"] == 2
    assert card["residence"]["current_residence"] == MOVE["current_residence"]
    intents = _intents(daemon)
    assert len(intents) == 1  # the repeat wrote nothing
    assert card["reconciled"] == [{"intent_id": intents[0]["id"],
                                   "outcome": "reconciled_success"}]
    assert _outcomes(daemon)[intents[0]["id"]] == "reconciled_success"
    row = daemon.client.get(f"/v1/cards/{SERIAL_A}", headers=daemon.auth()).json()
    assert row["last_sequence"] == 2
    replay = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert replay.headers.get("Idempotent-Replayed") == "true"  # the answer is stored now
    assert replay.json()["residence"]["sequence"] == 2


def test_without_a_key_the_landed_write_is_audited_as_landed_before_the_next(daemon,
                                                                           flaky_confirm):
    assert daemon.issue().status_code == 200
    flaky_confirm.append(1)
    assert daemon.client.post(daemon.url(action="resign"), json=MOVE,
                              headers=daemon.auth()).status_code == 503
    second = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=daemon.auth())
    assert second.status_code == 200 and second.json()["residence"]["sequence"] == 3
    first_intent, second_intent = sorted(i["id"] for i in _intents(daemon))
    outcomes = _outcomes(daemon)
    assert outcomes[first_intent] == "reconciled_success"  # it did land: never "failure"
    assert outcomes[second_intent] == "success"


def test_another_key_is_another_write(daemon, flaky_confirm):
    assert daemon.issue().status_code == 200
    for n, key in enumerate(("move-a", "move-b"), start=2):
        r = daemon.client.post(daemon.url(action="resign"), json=MOVE,
                               headers={**daemon.auth(), "Idempotency-Key": key})
        assert r.status_code == 200 and r.json()["residence"]["sequence"] == n


def test_a_keyed_issue_repeated_after_a_lost_confirmation_is_not_already_personalized(
        daemon, flaky_confirm):
    keyed = {"Idempotency-Key": "issue-1"}
    flaky_confirm.append(1)
    first = daemon.issue(**keyed)
    assert first.status_code == 503, first.text
    again = daemon.issue(**keyed)
    assert again.status_code == 200, again.text
    assert again.json()["verification"]["status"] == "valid"
    assert again.json()["identity"]["citizen_number"] == issue_body()["identity"]["citizen_number"]
    row = daemon.client.get(f"/v1/cards/{SERIAL_A}", headers=daemon.auth()).json()
    assert (row["status"], row["last_sequence"]) == ("active", 1)
    other = daemon.issue(**{"Idempotency-Key": "issue-2"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "ALREADY_PERSONALIZED"


def test_the_same_key_with_another_body_is_another_request(daemon, flaky_confirm):
    """The first attempt (to X) landed but its answer was lost; the same key sent with another
    body (Y) is not taken for it: Y is written, and X with that key is then refused."""
    assert daemon.issue().status_code == 200
    flaky_confirm.append(1)
    keyed = {**daemon.auth(), "Idempotency-Key": "move-x"}
    assert daemon.client.post(daemon.url(action="resign"), json=MOVE,
                              headers=keyed).status_code == 503
    other = {**MOVE, "current_residence": "示范县新城街道和平路14号"}
    written = daemon.client.post(daemon.url(action="resign"), json=other, headers=keyed)
    assert written.status_code == 200, written.text
    assert (written.json()["residence"]["current_residence"],
            written.json()["residence"]["sequence"]) == (other["current_residence"], 3)
    again = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_key_counts_only_within_its_retention(daemon, flaky_confirm):
    """After the Idempotency-Key retention (24 h here) the key names a new request."""
    assert daemon.issue().status_code == 200
    flaky_confirm.append(1)
    keyed = {**daemon.auth(), "Idempotency-Key": "move-late"}
    assert daemon.client.post(daemon.url(action="resign"), json=MOVE,
                              headers=keyed).status_code == 503
    daemon.clock.advance(hours=25)
    late = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert late.status_code == 200 and late.json()["residence"]["sequence"] == 3


@pytest.fixture
def printing_daemon(home, backend, monkeypatch):
    """A daemon with a printer queue whose ``lp`` only records what it was given."""
    from cardservice.face import printing

    jobs: list[str] = []

    def lp(pdf: bytes, queue: str, *, title: str, media=None, timeout=0.0) -> str:
        jobs.append(title)
        return f"{queue}-{len(jobs)}"

    monkeypatch.setattr(printing, "lp", lp)
    for daemon in running_daemon(home, backend, printer="counter"):
        yield daemon, jobs


def test_a_repeated_write_does_not_print_again(printing_daemon, monkeypatch):
    """Written and printed, then the answer could not be stored (the database went away): the
    retry with the key answers the card without writing or printing it again."""
    daemon, jobs = printing_daemon
    assert daemon.issue().json()["print"]["status"] == "printed"
    store, failures = daemon.runtime.idempotency, [1]
    real = store.store

    def store_once_unavailable(*args, **kw):
        if failures:
            failures.pop()
            raise errors.RegistryUnavailableError("the registry database is unreachable: gone")
        return real(*args, **kw)

    monkeypatch.setattr(store, "store", store_once_unavailable)
    keyed = {**daemon.auth(), "Idempotency-Key": "move-print"}
    first = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert first.status_code == 503 and len(jobs) == 2  # the issue's print, then the move's
    again = daemon.client.post(daemon.url(action="resign"), json=MOVE, headers=keyed)
    assert again.status_code == 200, again.text
    assert again.json()["residence"]["sequence"] == 2 and again.json()["print"] is None
    assert len(jobs) == 2
