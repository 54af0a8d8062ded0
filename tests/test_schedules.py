"""When scheduled runs are due (schedules.py): cron in a time zone, fixed periods on a grid,
and the runs missed while the daemon was down."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from supervisord_lite.schedules import ScheduleSpec, check_cron, every_seconds


def at(text: str, zone: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_cron_is_read_in_its_time_zone() -> None:
    utc = ScheduleSpec(cron="0 3 * * *", period=None, zone="UTC")
    paris = ScheduleSpec(cron="0 3 * * *", period=None, zone="Europe/Paris")
    now = at("2026-12-06T12:00:00")
    assert utc.next_due(now, None) == at("2026-12-07T03:00:00")
    assert paris.next_due(now, None) == at("2026-12-07T03:00:00", "Europe/Paris")
    every5 = ScheduleSpec(cron="*/5 * * * *", period=None, zone="UTC")
    assert every5.next_due(at("2026-12-06T12:05:00"), None) == at("2026-12-06T12:10:00")


def test_a_period_keeps_its_grid_across_restarts() -> None:
    spec = ScheduleSpec(cron=None, period=600, zone="UTC")
    assert spec.next_due(1000.0, None) == 1600.0
    assert spec.next_due(1000.0, 900.0) == 1500.0
    assert spec.next_due(5000.0, 900.0) == 5100.0  # 900 + 7 * 600, the first after now


def test_missed_runs() -> None:
    period = ScheduleSpec(cron=None, period=600, zone="UTC")
    assert period.missed(1000.0, None) is None
    assert period.missed(1000.0, 900.0) is None
    assert period.missed(5000.0, 900.0) == 4500.0
    cron = ScheduleSpec(cron="0 * * * *", period=None, zone="UTC")
    last = at("2026-12-06T10:00:00")
    assert cron.missed(at("2026-12-06T10:59:00"), last) is None
    assert cron.missed(at("2026-12-06T13:30:00"), last) == at("2026-12-06T13:00:00")


def test_checks() -> None:
    assert check_cron("*/5 * * * *") is None
    assert check_cron("0 25 * * *") is not None
    assert every_seconds("10m") == 600
    assert every_seconds("2d") == 172800
    with pytest.raises(ValueError, match='as "30s"'):
        every_seconds("10 minutes")
    assert datetime.fromtimestamp(at("2026-01-01T00:00:00"), UTC).year == 2026
