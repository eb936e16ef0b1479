"""The working-day calendar: weekends off, public holidays off, make-up working days on.

The calendar is data, one JSON file per year (``cardservice/workflow/data/<year>.json``, from
the State Council's holiday notices). A county adds a year or replaces one with a file of the
same form in ``<data directory>/calendar/<year>.json``. A year file names the days off (ranges,
as the notice states them) and the weekend days declared working days::

    {"year": 2026, "provisional": false, "source": "...",
     "days_off": [{"from": "2026-02-15", "to": "2026-02-23", "name": "春节"}],
     "working_days": [{"date": "2026-02-14", "name": "春节 make-up working day"}]}

A ``provisional`` year holds only what the law fixes (statutory days), not yet the State
Council's arrangement; due dates in it are marked provisional. The counting itself is the
``holidays`` library's (:meth:`~holidays.HolidayBase.get_nth_working_day` over its China
calendar, whose days are replaced by the data). A date in a year the calendar does not know is
refused with :class:`~cardservice.errors.CalendarYearUnknownError`, never guessed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from cardservice.errors import CalendarYearUnknownError, ValidationError

logger = logging.getLogger(__name__)

#: A first issue is ready on the fifth working day after submission.
FIRST_ISSUE_WORKING_DAYS = 5
OVERRIDE_FOLDER = "calendar"


@dataclass(frozen=True)
class CalendarYear:
    """One year of the calendar as its data file states it."""

    year: int
    days_off: dict[date, str]
    working_days: dict[date, str]
    provisional: bool
    source: str


def parse_year(data: dict, origin: str) -> CalendarYear:
    """A :class:`CalendarYear` from a year file's JSON; ValidationError names what is wrong."""
    try:
        year = int(data["year"])
        days_off: dict[date, str] = {}
        for span in data.get("days_off", []):
            start, end = date.fromisoformat(span["from"]), date.fromisoformat(span["to"])
            for offset in range((end - start).days + 1):
                days_off[start + timedelta(days=offset)] = str(span.get("name", "holiday"))
        working = {date.fromisoformat(d["date"]): str(d.get("name", "working day"))
                   for d in data.get("working_days", [])}
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError("calendar", f"{origin}: not a calendar year file ({exc})",
                              "format") from exc
    stray = [d for d in (*days_off, *working) if d.year != year]
    if stray:
        raise ValidationError("calendar", f"{origin}: {stray[0]} is not in {year}", "format")
    weekday_work = [d for d in working if d.weekday() < 5]
    if weekday_work or set(working) & set(days_off):
        raise ValidationError("calendar", f"{origin}: a make-up working day must be a weekend "
                              "day that is not also a day off", "format")
    return CalendarYear(year, days_off, working, bool(data.get("provisional", False)),
                        str(data.get("source", origin)))


def shipped_years() -> dict[int, CalendarYear]:
    """The years shipped with the software."""
    years = {}
    for entry in resources.files("cardservice.workflow").joinpath("data").iterdir():
        if entry.name.endswith(".json"):
            parsed = parse_year(json.loads(entry.read_text("utf-8")), entry.name)
            years[parsed.year] = parsed
    return years


def override_years(home: Path | None) -> dict[int, CalendarYear]:
    """The years a county put in ``<home>/calendar/``."""
    folder = None if home is None else Path(home) / OVERRIDE_FOLDER
    if folder is None or not folder.is_dir():
        return {}
    years = {}
    for path in sorted(folder.glob("*.json")):
        parsed = parse_year(json.loads(path.read_text("utf-8")), str(path.name))
        years[parsed.year] = parsed
        logger.info("calendar: %d from the data directory (%s)", parsed.year, parsed.source)
    return years


class WorkingDayCalendar:
    """Working days over the known years; see the module docstring."""

    def __init__(self, years: dict[int, CalendarYear]) -> None:
        if not years:
            raise ValidationError("calendar", "no calendar year is known", "empty")
        import holidays  # here: loading it costs the CLI's every command about 0.3 s

        self.years = dict(sorted(years.items()))
        self._days = holidays.China(years=list(self.years), expand=False)
        for year, data in self.years.items():
            for day in [d for d in self._days if d.year == year]:
                self._days.pop(day)
            for day, name in data.days_off.items():
                self._days[day] = name
        self._days.weekend_workdays = {d for y in self.years.values() for d in y.working_days}

    @classmethod
    def load(cls, home: Path | None = None) -> WorkingDayCalendar:
        """The shipped years, with the data directory's year files on top."""
        return cls({**shipped_years(), **override_years(home)})

    @property
    def first_year(self) -> int:
        return next(iter(self.years))

    @property
    def last_year(self) -> int:
        return next(reversed(self.years))

    def is_working_day(self, day: date) -> bool:
        self._require(day)
        return self._days.is_working_day(day)

    def day_off_name(self, day: date) -> str | None:
        """The holiday a day off belongs to (None for a weekend or a working day)."""
        self._require(day)
        return self._days.get(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself does not count)."""
        if count < 1:
            raise ValidationError("count", "must be at least 1", "range")
        self._require(start)
        day = start
        for _ in range(count):
            day = self._days.get_nth_working_day(day, 1)
            self._require(day)  # walked into a year the calendar does not know
        return day

    def due_on(self, submitted: datetime | date,
               working_days: int = FIRST_ISSUE_WORKING_DAYS) -> date:
        """The due date of an application submitted at ``submitted`` (local date)."""
        day = submitted.astimezone().date() if isinstance(submitted, datetime) else submitted
        return self.add_working_days(day, working_days)

    def is_provisional(self, day: date) -> bool:
        """True if ``day`` lies in a year whose data holds only the statutory days."""
        return self._require(day).provisional

    def _require(self, day: date) -> CalendarYear:
        known = self.years.get(day.year)
        if known is None:
            raise CalendarYearUnknownError(
                f"the working-day calendar knows {self.first_year}..{self.last_year}, not "
                f"{day.year} ({day}); add {day.year}.json to the data directory's "
                f"{OVERRIDE_FOLDER}/ folder", year=day.year)
        return known
