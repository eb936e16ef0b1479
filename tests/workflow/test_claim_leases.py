"""Claims of production runs on other PCs (a shared PostgreSQL registry, or SQLite): a run
renews the lease of its claims while it runs; a run elsewhere leaves a renewed claim alone and
releases one whose lease ran out (that PC's run died), on both backends."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from cardservice.workflow import production
from cardservice.workflow.production import ProductionRun
from cardservice.workflow.recovery import CLAIM_LEASE
from tests.workflow_fixtures import ALICE, BOB

from .conftest import CERTIFIER, InProcessFeeder, World
from .test_applications import _certified, _produce

OTHER_PC = "other-pc.county.example"


def test_a_claim_of_another_pc_is_released_only_once_its_lease_ran_out(world: World) -> None:
    alive, dead = (_certified(world, p) for p in (BOB, ALICE))
    store, now = world.service.store, world.clock()
    long_ago = now - CLAIM_LEASE - timedelta(minutes=1)
    assert store.claim(alive.id, f"run-b@{OTHER_PC}:77", long_ago)
    assert store.claim(dead.id, f"run-c@{OTHER_PC}:78", long_ago)
    assert store.renew_claims(f"run-b@{OTHER_PC}:77", now - timedelta(minutes=1)) == 1
    assert store.claim_leases() == {f"run-b@{OTHER_PC}:77": now - timedelta(minutes=1),
                                    f"run-c@{OTHER_PC}:78": long_ago}
    progress, _ = _produce(world, ["52500000000000d1", "52500000000000d2"])
    assert [r[0] for r in progress.results] == [dead.id]  # produced here
    row = store.require(alive.id)
    assert (row.status, row.claimed_by) == ("certified", f"run-b@{OTHER_PC}:77")
    assert store.claim_leases() == {f"run-b@{OTHER_PC}:77": now - timedelta(minutes=1)}


def test_a_running_run_renews_its_claims(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _certified(world, BOB)
    monkeypatch.setattr(production, "CLAIM_RENEW_S", 0.01)
    run = ProductionRun(world.service, world.engine, InProcessFeeder({"R0": []}).access(),
                        ["R0"], CERTIFIER)
    taken = world.clock()
    assert world.service.store.claim(app.id, run.owner, taken)
    world.clock.advance(minutes=3)
    ended = threading.Event()
    renewer = threading.Thread(target=run._renew_claims, args=(ended,), daemon=True)
    renewer.start()
    deadline = time.monotonic() + 10
    try:
        while world.service.store.claim_leases()[run.owner] == taken:
            assert time.monotonic() < deadline, "the claim was never renewed"
            time.sleep(0.01)
    finally:
        ended.set()
        renewer.join(10)
    assert world.service.store.claim_leases()[run.owner] == world.clock()
    assert not renewer.is_alive()
