"""Billing periods: calendar months in UTC, ``[first day 00:00, next first day 00:00)``."""

from __future__ import annotations

import datetime as dt
import re

PERIOD_RE = re.compile(r"^([1-9][0-9]{3})-(0[1-9]|1[0-2])$")  # year 0000 is no datetime


def month_start(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    return dt.datetime(at.year, at.month, 1, tzinfo=dt.UTC)


def next_month(start: dt.datetime) -> dt.datetime:
    return dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=dt.UTC)


def previous_month(start: dt.datetime) -> dt.datetime:
    return month_start(start - dt.timedelta(days=1))


def parse(period: str) -> dt.datetime:
    """``"2026-11"`` as the first instant of that month; ValueError otherwise."""
    match = PERIOD_RE.fullmatch(period)  # `$` alone would let a trailing newline through
    if not match:
        raise ValueError(f"period {period!r} must look like 2026-11")
    return dt.datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=dt.UTC)


def label(start: dt.datetime) -> str:
    return f"{start:%Y-%m}"
