"""Teams, their business hours (in their own time zone, with holidays) and SLAs.

Pure functions of a `TeamsConfig` and a moment in time, so they are tested
without waiting for Monday morning."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from handoff import UnknownTeam

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Team(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    timezone: str = "UTC"
    hours: dict[str, str] = {}  # "mon" -> "09:00-17:00"; a missing day is closed
    holidays: tuple[date, ...] = ()
    sla_minutes: dict[int, float] = {1: 60, 2: 15, 3: 5}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone: a clear error at start-up
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, span in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
            _span(span)
        return value

    def sla_s(self, priority: int) -> float:
        minutes = self.sla_minutes.get(priority) or max(self.sla_minutes.values(), default=60)
        return minutes * 60


class Topic(BaseModel):
    team: str
    priority: int = 1


class TeamsConfig(BaseModel):
    default_team: str
    teams: dict[str, Team]
    topics: dict[str, Topic] = {}

    def team(self, team_id: str) -> Team:
        try:
            return self.teams[team_id]
        except KeyError:
            raise UnknownTeam(team_id) from None


def load_teams(path: Path) -> TeamsConfig:
    config = TeamsConfig.model_validate(yaml.safe_load(path.read_text()))
    for topic in config.topics.values():
        config.team(topic.team)
    config.team(config.default_team)
    return config


def _span(text: str) -> tuple[time, time | None]:
    """"09:00-17:00" -> (09:00, 17:00); an end of 24:00 is end of day (None)."""
    start, _, end = text.partition("-")
    opens = time.fromisoformat(start.strip())
    closes = None if end.strip() == "24:00" else time.fromisoformat(end.strip())
    return opens, closes


def is_open(team: Team, now: datetime) -> bool:
    local = now.astimezone(ZoneInfo(team.timezone))
    if local.date() in team.holidays:
        return False
    span = team.hours.get(DAYS[local.weekday()])
    if span is None:
        return False
    opens, closes = _span(span)
    return opens <= local.time() and (closes is None or local.time() < closes)


def next_opening(team: Team, now: datetime) -> datetime | None:
    """When the team is next open (now if open), or None if it never opens."""
    if is_open(team, now):
        return now
    zone = ZoneInfo(team.timezone)
    local = now.astimezone(zone)
    for offset in range(15):  # two weeks covers any week plus a holiday run
        day = local.date() + timedelta(days=offset)
        span = team.hours.get(DAYS[day.weekday()])
        if span is None or day in team.holidays:
            continue
        opens, _ = _span(span)
        candidate = datetime.combine(day, opens, tzinfo=zone)
        if candidate > local:
            return candidate
    return None
