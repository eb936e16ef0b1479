"""CARDSERVICE_SITE_AREA at the counter: an application whose residence is outside the
acceptance point's area is refused (rule residence_outside_site_area) and nothing is stored."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.engine.area import SiteArea
from cardservice.workflow.model import Residence
from tests.workflow_fixtures import BOB

from .conftest import CLERK, World, draft


def test_an_application_outside_the_area_is_refused_at_the_counter(world: World) -> None:
    world.service.site_area = SiteArea.parse("示范县新城街道")
    with pytest.raises(errors.PolicyError) as exc:
        world.service.submit(draft(BOB), CLERK)  # 示范县城关镇幸福路1号
    assert exc.value.rule == "residence_outside_site_area"
    assert world.service.find(citizen_number=BOB["citizen_number"]) == []
    inside = draft(BOB, residence=Residence("示范县新城街道和平路12号", "temporary"))
    assert world.service.submit(inside, CLERK).site == CLERK.site


def test_the_cli_takes_the_area_from_the_environment(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CARDSERVICE_HOME": str(tmp_path / "home"),
           "CARDSERVICE_SITE_AREA": "博乐市"}
    holder = ["--name", "王五", "--gender", "male", "--nationality", "维吾尔族",
              "--citizen-number", "110105199001011232", "--household-address", "新疆博乐市红星路1号",
              "--permit-type", "temporary"]

    def submit(residence: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cardservice", "application", "submit",
                               *holder, "--residence", residence], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    outside = submit("示范县城关镇幸福路1号")
    assert outside.returncode == 3
    assert outside.stderr.startswith("error POLICY_VIOLATION: residence_outside_site_area")
    inside = submit("博乐市团结路2号")
    assert inside.returncode == 0 and "A000001" in inside.stdout
