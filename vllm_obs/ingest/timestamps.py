"""Full timestamps for log lines.

vLLM stamps lines `MM-DD HH:MM:SS`: no year, no milliseconds, the container's local time. The
outer timestamp (Docker, CRI, journald's ISO form, JSON logging) is exact and wins. Otherwise the
year is `--year`, or inferred from the file: the first line is taken to be in the year of the
file's modification time (the year before when its month is later than the mtime's month), and
the year advances whenever the month goes backwards (12-31 -> 01-01). `--year` names the first
line's year. `--timezone` names the zone vLLM's clock was in (default UTC).
"""

from __future__ import annotations

import functools
import os
import re
import time
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vllm_obs.parse.records import LineContext


class TimezoneError(ValueError):
    pass


def parse_timezone(name: str | None) -> tzinfo:
    if not name or name.upper() == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimezoneError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin, or UTC)") from None


@functools.lru_cache(maxsize=1024)
def _utc_midnight(day: str) -> float | None:
    """The epoch seconds of a "YYYY-MM-DD" (ASCII digits) at 00:00 UTC; None for 02-30, month 13."""
    try:
        return datetime(int(day[0:4]), int(day[5:7]), int(day[8:10]), tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


# Docker's and CRI's stamp as they write it on every line; anything else takes the general rules.
_RFC3339_UTC = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?[Zz]")


def _utc_stamp(text: str) -> tuple[str, str | None, float, int] | None:
    """A valid `YYYY-MM-DDTHH:MM:SS[.f]Z` from 1970 on as (its day, its fraction with the dot,
    the day's midnight, the second of the day); None for any other text (the general rules)."""
    utc = _RFC3339_UTC.fullmatch(text)
    if utc is None:
        return None
    day, hour_text, minute_text, second_text, fraction = utc.groups()
    hour, minute, second = int(hour_text), int(minute_text), int(second_text)
    if day < "1970" or hour >= 24 or minute >= 60 or second >= 60:
        return None
    midnight = _utc_midnight(day)
    return None if midnight is None else (day, fraction, midnight, hour * 3600 + minute * 60 + second)


def parse_outer_time(text: str, tz: tzinfo = timezone.utc) -> float | None:
    """RFC 3339 (Docker, CRI), `YYYY-MM-DD HH:MM:SS[,mmm]` (JSON logging, stamps), or None."""
    utc = _utc_stamp(text)
    if utc is not None:
        # The general rules' answer in one match: the day's midnight from a cache, the time of
        # day by integer arithmetic (exact; tests/test_timestamps.py compares with strptime).
        _day, fraction, midnight, second_of_day = utc
        return midnight + second_of_day + (float("0" + fraction) if fraction else 0.0)
    t = text.strip().strip("[]")
    if len(t) < 19 or not t[:4].isdigit():
        return None
    frac = 0.0
    head, zone = t[:19], t[19:]
    if zone[:1] in ".,":
        rest = zone[1:]
        after = rest.lstrip("0123456789")
        digits = rest[: len(rest) - len(after)]
        if after[:1].isdigit():  # a non-ASCII digit: one by one, as any digit counts
            digits = ""
            for ch in rest:
                if not ch.isdigit():
                    break
                digits += ch
        frac = float("0." + digits) if digits else 0.0
        zone = zone[1 + len(digits):]
    try:
        moment = datetime.strptime(head.replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if moment.year < 1970:
        return None  # Docker's zero time ("0001-01-01T00:00:00Z": never started), not a moment
    if zone in ("Z", "z"):
        moment = moment.replace(tzinfo=timezone.utc)
    elif zone[:1] in "+-" and len(zone) >= 5:
        sign = 1 if zone[0] == "+" else -1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=hh, minutes=mm)))
    else:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp() + frac


def parse_time(text: str | None) -> datetime | None:
    """A full stamp (the summary's ISO 8601 UTC times, Docker's RFC 3339 with nanoseconds) as an
    aware datetime, or None: the one parser of full timestamps (see parse_outer_time)."""
    seconds = parse_outer_time(text) if text else None
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds is not None else None


class Timeline:
    """Resolve each record's time for one input file, in log order."""

    def __init__(self, year: int | None = None, tz: tzinfo = timezone.utc, path: str | None = None) -> None:
        self.tz = tz
        self.mtime = None
        if year is None and path and path != "-":
            try:
                self.mtime = datetime.fromtimestamp(os.stat(path).st_mtime, tz)
            except OSError:
                self.mtime = None
        self.year: int | None = year
        self.last_month: int | None = None
        self._outer_cache: tuple[str, float | None] = ("", None)
        self._day: tuple[tuple[int, int, int] | None, float | None] = (None, None)  # (year, month, day), its midnight

    def _start_year(self, month: int) -> int:
        reference = self.mtime or datetime.fromtimestamp(time.time(), self.tz)
        return reference.year - 1 if month > reference.month else reference.year

    def resolve(self, context: LineContext) -> float | None:
        if context.outer_time:
            if self._outer_cache[0] != context.outer_time:
                self._outer_cache = (context.outer_time, parse_outer_time(context.outer_time, self.tz))
            if self._outer_cache[1] is not None:
                return self._outer_cache[1]
        stamp = context.log_time
        if not stamp or len(stamp) < 14:
            return None
        try:
            month, day = int(stamp[0:2]), int(stamp[3:5])
            hour, minute, second = int(stamp[6:8]), int(stamp[9:11]), int(stamp[12:14])
        except ValueError:
            return None
        if self.year is None:
            self.year = self._start_year(month)
        elif self.last_month is not None and month < self.last_month:
            self.year += 1  # 12-31 -> 01-01 (--year names the first line's year)
        self.last_month = month
        if not (hour < 24 and minute < 60 and second < 60):
            return None  # what datetime() refuses
        day_key = (self.year, month, day)
        if day_key != self._day[0]:
            try:
                midnight = datetime(self.year, month, day, tzinfo=self.tz)
            except ValueError:  # 02-29 in a year without it, or junk
                return None
            # A fixed offset (UTC, --tz +02:00) makes every second of the day midnight + n; a zone
            # with daylight saving changes offset within a day, so each stamp asks the zone.
            self._day = (day_key, midnight.timestamp() if isinstance(self.tz, timezone) else None)
        base = self._day[1]
        if base is not None:
            return base + hour * 3600 + minute * 60 + second
        return datetime(self.year, month, day, hour, minute, second, tzinfo=self.tz).timestamp()

    def iso(self, context: LineContext) -> str | None:
        """`iso(self.resolve(context))`, read off Docker's and CRI's stamp text where the two
        agree for certain: a UTC stamp before 2038 sums to a float within 0.24 us of its
        digits, so the microseconds round to its own or the next one, and the milliseconds stay
        its digits unless its microseconds end in 998 or 999 (tests/test_timestamps.py)."""
        stamp = context.outer_time
        utc = _utc_stamp(stamp) if stamp else None
        if stamp and utc is not None and utc[0] < "2038":
            digits = utc[1][1:] if utc[1] else ""
            if int(digits[3:6].ljust(3, "0")) <= 997:
                return f"{stamp[:19]}.{digits[:3].ljust(3, '0')}Z"
        return iso(self.resolve(context))


# The day of the last whole second formatted and its "YYYY-MM-DDT", replaced as one tuple (the
# sidecar's source threads share it).
_iso_day: tuple[int, str] = (-1, "")


def iso(seconds: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds ("2025-11-25T17:19:24.000Z")."""
    if seconds is None:
        return None
    whole = int(seconds)
    if whole == seconds and whole >= 0:  # vLLM's own stamps: whole seconds, many a day
        global _iso_day
        day, rest = divmod(whole, 86400)
        cached = _iso_day
        if day != cached[0]:
            cached = _iso_day = (day, datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%dT"))
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        return f"{cached[1]}{hour:02d}:{minute:02d}:{second:02d}.000Z"
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
