"""The working-day calendar and the five-working-day due date (2026 and 2027 holidays)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from cardservice.errors import CalendarYearUnknownError, ValidationError
from cardservice.workflow.calendar import WorkingDayCalendar, parse_year, shipped_years


@pytest.fixture(scope="module")
def cal() -> WorkingDayCalendar:
    return WorkingDayCalendar.load()


def _days(year: int):
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += timedelta(days=1)


# --- 2026: the State Council's notice of 2025-11-04 --------------------------------------


@pytest.mark.parametrize(("submitted", "due"), [
    # Spring Festival: 15-23 Feb off, Sat 14 Feb and Sat 28 Feb working
    ("2026-02-09", "2026-02-14"),  # Mon: 10, 11, 12, 13, Sat 14 (make-up)
    ("2026-02-10", "2026-02-24"),  # 11, 12, 13, 14, then the holiday, 24
    ("2026-02-13", "2026-02-27"),  # 14, 24, 25, 26, 27
    ("2026-02-20", "2026-02-28"),  # inside the holiday: 24, 25, 26, 27, Sat 28 (make-up)
    ("2026-02-14", "2026-02-28"),  # on the make-up Saturday: 24, 25, 26, 27, Sat 28
    # National Day: 1-7 Oct off, Sun 20 Sep and Sat 10 Oct working; Mid-Autumn 25-27 Sep
    ("2026-09-17", "2026-09-23"),  # Thu: 18, Sun 20 (make-up), 21, 22, 23
    ("2026-09-24", "2026-10-09"),  # 28, 29, 30, 8, 9
    ("2026-09-28", "2026-10-10"),  # 29, 30, 8, 9, Sat 10 (make-up)
    ("2026-10-03", "2026-10-13"),  # 8, 9, Sat 10 (make-up), 12, 13
    # ordinary weeks
    ("2026-12-07", "2026-12-14"),  # Mon -> next Mon
    ("2026-12-05", "2026-12-11"),  # Sat -> Fri
    ("2026-01-01", "2026-01-08"),  # New Year: 1-3 off; Sun 4 (make-up), 5, 6, 7, 8
])
def test_due_dates_2026(cal: WorkingDayCalendar, submitted: str, due: str) -> None:
    assert cal.due_on(date.fromisoformat(submitted)) == date.fromisoformat(due)


def test_2026_days_named_by_the_notice(cal: WorkingDayCalendar) -> None:
    for day in ("2026-02-15", "2026-02-16", "2026-02-23", "2026-10-01", "2026-10-07",
                "2026-01-02", "2026-05-05", "2026-04-06"):
        assert not cal.is_working_day(date.fromisoformat(day)), day
    for day in ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
                "2026-10-10", "2026-02-24", "2026-10-08"):
        assert cal.is_working_day(date.fromisoformat(day)), day
    assert cal.day_off_name(date(2026, 2, 17)).startswith("春节")
    assert not cal.is_provisional(date(2026, 6, 1))


def test_shipped_2026_agrees_with_the_holidays_library() -> None:
    """The shipped 2026 file and the holidays library's China calendar agree day by day."""
    ours = WorkingDayCalendar({2026: shipped_years()[2026]})
    library = holidays.China(years=2026)
    assert [d for d in _days(2026) if ours.is_working_day(d) != library.is_working_day(d)] == []
    assert sorted(shipped_years()[2026].working_days) == sorted(
        d for d in library.weekend_workdays if d.year == 2026)


# --- 2027 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("submitted", "due"), [
    # Spring Festival (eve Fri 5 Feb, New Year Sat 6 Feb): 5-10 Feb off
    ("2027-02-01", "2027-02-12"),  # 2, 3, 4, 11, 12
    ("2027-02-04", "2027-02-17"),  # 11, 12, 15, 16, 17
    # National Day (Fri 1 Oct): 1-5 Oct off
    ("2027-09-28", "2027-10-08"),  # 29, 30, 6, 7, 8
    ("2027-09-14", "2027-09-22"),  # Mid-Autumn Wed 15 Sep off: 16, 17, 20, 21, 22
])
def test_due_dates_2027(cal: WorkingDayCalendar, submitted: str, due: str) -> None:
    start = date.fromisoformat(submitted)
    assert cal.due_on(start) == date.fromisoformat(due)
    assert cal.is_provisional(date.fromisoformat(due))


def test_2027_is_the_statutory_calendar_of_the_holidays_library() -> None:
    """2027 ships as provisional: the library's statutory days, no make-up days yet."""
    ours = WorkingDayCalendar({2027: shipped_years()[2027]})
    library = holidays.China(years=2027)
    assert [d for d in _days(2027) if ours.is_working_day(d) != library.is_working_day(d)] == []
    assert shipped_years()[2027].provisional


def test_due_date_across_the_year_end(cal: WorkingDayCalendar) -> None:
    assert cal.due_on(date(2026, 12, 28)) == date(2027, 1, 5)  # 29, 30, 31, (1 off), 4, 5


def test_submitted_at_is_taken_in_local_time(cal: WorkingDayCalendar) -> None:
    moment = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert cal.due_on(moment) == cal.due_on(moment.astimezone().date())


# --- unknown years, county overrides, bad files ------------------------------------------


def test_due_date_past_the_last_known_year_is_refused(cal: WorkingDayCalendar) -> None:
    with pytest.raises(CalendarYearUnknownError) as err:
        cal.due_on(date(2027, 12, 27))  # its fifth working day is in 2028
    assert err.value.code == "CALENDAR_YEAR_UNKNOWN"
    assert "2028" in err.value.message and "calendar/" in err.value.message
    with pytest.raises(CalendarYearUnknownError):
        cal.due_on(date(2025, 6, 2))
    assert cal.due_on(date(2027, 12, 23)) == date(2027, 12, 30)


def test_county_override_replaces_and_adds_years(tmp_path) -> None:
    folder = tmp_path / "calendar"
    folder.mkdir()
    # the county enters a (made-up, test-only) 2027 arrangement and a 2028 year
    (folder / "2027.json").write_text(json.dumps({
        "year": 2027, "source": "county test", "days_off": [
            {"from": "2027-02-04", "to": "2027-02-12", "name": "春节"}],
        "working_days": [{"date": "2027-02-20", "name": "make-up"}]}), "utf-8")
    (folder / "2028.json").write_text(json.dumps({
        "year": 2028, "days_off": [{"from": "2028-01-01", "to": "2028-01-03", "name": "元旦"}],
        "working_days": []}), "utf-8")
    cal = WorkingDayCalendar.load(tmp_path)
    assert cal.last_year == 2028
    assert not cal.is_provisional(date(2027, 2, 1))
    assert cal.due_on(date(2027, 2, 1)) == date(2027, 2, 17)  # 2, 3, (4-12 off), 15, 16, 17
    assert cal.due_on(date(2027, 2, 15)) == date(2027, 2, 20)  # 16, 17, 18, 19, Sat 20
    assert cal.due_on(date(2027, 12, 27)) == date(2028, 1, 4)  # 28, 29, 30, 31, (1-3 off), 4
    assert cal.is_working_day(date(2026, 2, 14))  # shipped years stay


@pytest.mark.parametrize("data", [
    {"days_off": []},
    {"year": 2026, "days_off": [{"from": "2026-13-01", "to": "2026-12-01"}]},
    {"year": 2026, "days_off": [{"from": "2027-01-01", "to": "2027-01-01"}]},
    {"year": 2026, "working_days": [{"date": "2026-02-16"}]},  # a Monday
])
def test_bad_year_files_are_refused(data: dict) -> None:
    with pytest.raises(ValidationError) as err:
        parse_year(data, "bad.json")
    assert err.value.field == "calendar"
