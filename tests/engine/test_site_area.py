"""CARDSERVICE_SITE_AREA: an acceptance point takes applications, direct issues and moves only
for residences in its area (address prefixes); elsewhere rule residence_outside_site_area before
anything is recorded or written. Unset, every residence is taken; production (the county centre)
is not limited."""

from __future__ import annotations

import pytest

from cardservice import errors
from cardservice.config import Settings
from cardservice.engine.area import ANYWHERE, SiteArea
from cardservice.engine.operations import Engine, PermitRequest
from tests.engine.conftest import identity, temporary

AREA = SiteArea.parse("博乐市青得里街道， 博乐市 新城街道")


def test_the_area_is_read_from_its_setting_with_either_comma_and_spaces_ignored():
    assert AREA.prefixes == ("博乐市青得里街道", "博乐市新城街道")
    assert SiteArea.parse(None) == SiteArea.parse(" , ") == ANYWHERE
    assert Settings(site_area="甲镇;乙镇").site_area == "甲镇;乙镇"
    assert SiteArea.parse(Settings(site_area="甲镇;乙镇").site_area).prefixes == ("甲镇", "乙镇")
    assert AREA.covers("博乐市 青得里街道团结路12号") and not AREA.covers("示范县城关镇幸福路1号")
    assert ANYWHERE.covers("anywhere at all")


PROVINCE, PREFECTURE = "新疆维吾尔自治区", "博尔塔拉蒙古自治州"


@pytest.mark.parametrize(("area", "residence"), [
    ("博乐市", f"{PROVINCE}{PREFECTURE}博乐市青得里街道团结路12号"),
    ("博乐市", f"{PREFECTURE}博乐市青得里街道团结路12号"),
    ("博乐市", f"{PROVINCE} 博乐市青得里街道团结路12号"),
    (f"{PROVINCE}{PREFECTURE}博乐市青得里街道", "博乐市青得里街道团结路12号"),
    (f"{PREFECTURE}博乐市", f"{PROVINCE}{PREFECTURE}博乐市青得里街道"),
    ("郑州市金水区", "河南省郑州市金水区花园路1号"),
    ("北京市朝阳区", "北京市朝阳区建国路88号"),
    ("北京市朝阳区", "北京市市辖区朝阳区建国路88号"),
    # each side leaves out a different level
    ("苏州市昆山市玉山镇", "江苏省昆山市玉山镇人民路1号"),
    ("郑州市巩义市", "河南省巩义市新华路街道1号"),
    (f"{PREFECTURE}博乐市", f"{PROVINCE}博乐市青得里街道"),
    ("阿拉善盟阿拉善左旗", "内蒙古自治区阿拉善左旗巴彦浩特镇1号"),
    # an area of divisions only, written on the residence
    (PREFECTURE, f"{PROVINCE}{PREFECTURE}精河县城关镇1号"),
    (PROVINCE, f"{PROVINCE}{PREFECTURE}精河县城关镇1号"),
    ("北京市", "北京市朝阳区建国路88号"),
    ("河南省郑州市", "郑州市金水区1号"),  # the province left out under its prefecture
    (f"{PROVINCE}{PREFECTURE}", f"{PREFECTURE}博乐市1号"),
    # street parts that end like a division
    ("苏州市昆山市玉山镇", "江苏省昆山市玉山镇阳光小区1号"),
    ("苏州市昆山市玉山镇", "江苏省昆山市玉山镇人民路社区1号"),
    ("苏州市昆山市", "江苏省昆山市高新区1号"),
    ("苏州市昆山市", "昆山市开发区1号"),
    ("郑州市巩义市", "巩义市新华路街道东区社区1号"),
    ("郑州市巩义市", "河南省巩义市紫荆路超市1号"),
    ("金水区", "郑州市金水区省府路1号"),
    ("河南省郑州市金水区", "郑州市金水区省直小区1号"),
    ("示范县城关镇", "河北省示范县城关镇农贸市场小区1号"),
])
def test_the_divisions_above_the_county_may_be_written_or_left_out(area: str,
                                                                   residence: str) -> None:
    assert SiteArea.parse(area).covers(residence)


@pytest.mark.parametrize(("area", "residence"), [
    ("博乐市", f"{PROVINCE}{PREFECTURE}精河县城关镇1号"),
    ("博乐市", f"{PREFECTURE}阿拉山口市1号"),
    (f"{PROVINCE}{PREFECTURE}博乐市青得里街道", "博乐市新城街道友谊路8号"),
    (f"{PROVINCE}{PREFECTURE}博乐市青得里街道", "青得里街道团结路12号"),  # no city
    ("北京市朝阳区", "上海市朝阳区1号"),  # the same district name in another city
    ("郑州市金水区", "河南省开封市金水区1号"),
    ("博乐市", "城关镇博乐市路1号"),  # not a division in front
    ("巩义市新华路街道", "新华路街道1号"),  # a county-level city is not left out
    ("博乐市青得里街道", "青得里街道团结路12号"),
    ("新城街道", "甲省超市新城街道1号"),  # 超市 is no city
    (PREFECTURE, "昆山市玉山镇1号"),  # an area of divisions only: the residence names them
    (PREFECTURE, f"{PROVINCE}伊犁哈萨克自治州伊宁市1号"),
    (PROVINCE, "昆山市玉山镇1号"),
    (PROVINCE, "江苏省昆山市玉山镇1号"),
    ("巩义市新华路街道东区社区", "新华路街道东区社区1号"),  # the city is not left out
    ("解放区", "巩义市解放区路1号"),  # a road named like a district
    ("青得里街道", "精河县青得里街道幸福小区1号"),
])
def test_only_the_divisions_above_the_county_are_left_out(area: str, residence: str) -> None:
    assert not SiteArea.parse(area).covers(residence)


def test_a_direct_issue_and_a_move_outside_the_area_are_refused_before_the_card(
        engine: Engine, card, conn) -> None:
    engine.site_area = AREA
    with pytest.raises(errors.PolicyError) as exc:
        engine.issue(conn, identity(), temporary("示范县城关镇幸福路1号"))
    assert exc.value.rule == "residence_outside_site_area"
    assert not card.image.locked and engine.audit.count() == 0
    engine.issue(conn, identity(), temporary())  # 博乐市青得里街道...: in the area
    writes = card.update_count
    with pytest.raises(errors.PolicyError) as exc:
        engine.resign(conn, PermitRequest(current_residence="示范县城关镇幸福路1号"))
    assert exc.value.rule == "residence_outside_site_area" and card.update_count == writes
    moved = engine.resign(conn, PermitRequest(current_residence="博乐市新城街道和平路9号"))
    assert moved.report.record.sequence == 2
    renewed = engine.renew(conn, PermitRequest())  # the residence stays: not judged again
    assert renewed.report.record.sequence == 3




def test_the_daemon_takes_the_area_from_the_environment(tmp_path, monkeypatch):
    from cardservice.api.app import build_runtime

    monkeypatch.setenv("CARDSERVICE_SITE_AREA", "博乐市青得里街道,博乐市新城街道")
    assert build_runtime(Settings(home=tmp_path / "home")).service.site_area == AREA
