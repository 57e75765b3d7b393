"""The timestamp fast paths (ingest/timestamps.py) against the plain library way: RFC 3339 parsed
by strptime, the year-less vLLM stamp through datetime(), ISO output through isoformat."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_obs.ingest.timestamps import Timeline, iso, parse_outer_time
from vllm_obs.parse.records import LineContext


def strptime_reference(text: str) -> float | None:
    """RFC 3339 / `YYYY-MM-DD HH:MM:SS[.f]` the slow, obvious way."""
    t = text.strip().strip("[]")
    if len(t) < 19 or not t[:4].isdigit():
        return None
    head, zone, frac = t[:19], t[19:], 0.0
    if zone[:1] in ".,":
        digits = ""
        for ch in zone[1:]:
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
        return None
    if zone in ("Z", "z"):
        moment = moment.replace(tzinfo=timezone.utc)
    elif zone[:1] in "+-" and len(zone) >= 5:
        sign = 1 if zone[0] == "+" else -1
        moment = moment.replace(tzinfo=timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))))
    else:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp() + frac


STAMPS = st.builds(
    lambda y, mo, d, h, mi, s, sep, frac, zone: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{zone}",
    st.sampled_from([1, 1969, 1970, 2024, 2025, 2100, 9999]), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61), st.sampled_from(["T", " ", "t", "_"]),
    st.one_of(st.just(""), st.just("."), st.integers(0, 10**9 - 1).map(lambda n: f".{n:09d}"), st.sampled_from([".5", ",123", ".٣"])),
    st.sampled_from(["Z", "z", "+02:00", "-0530", "", " stdout"]),
)


@settings(max_examples=3000, deadline=None)
@given(STAMPS)
def test_outer_time_equals_strptime(text: str) -> None:
    assert parse_outer_time(text) == strptime_reference(text)


def test_cri_stamp_value() -> None:
    assert parse_outer_time("2025-11-25T20:41:24.591777563Z") == datetime(2025, 11, 25, 20, 41, 24, tzinfo=timezone.utc).timestamp() + 0.591777563
    assert parse_outer_time("0001-01-01T00:00:00Z") is None  # Docker's zero time
    assert parse_outer_time("2025-02-29T00:00:00Z") is None


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.integers(0, 4 * 10**9).map(float), st.floats(0, 4e9)))
def test_iso_equals_isoformat(seconds: float) -> None:
    assert iso(seconds) == datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Stamps as CRI and Docker give them (nanoseconds), and fractions at the rounding edges: half a
# microsecond either side, just below the next second (the carry), and far dates.
NEAR_EDGES = st.builds(
    lambda whole, micros, nudge: whole + micros / 1e6 + nudge,
    st.integers(0, 2 * 10**11), st.sampled_from([0, 1, 499, 500, 999, 999_499, 999_500, 999_999]),
    st.sampled_from([0.0, 5e-7, -5e-7, 4.9e-7, 5.1e-7, 1e-9, -1e-9]),
)
CRI_STAMPS = st.builds(
    lambda day, second, nanos: parse_outer_time(f"2025-11-{day:02d}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{nanos:09d}Z"),
    st.integers(1, 30), st.integers(0, 86399), st.integers(0, 10**9 - 1),
)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(NEAR_EDGES, CRI_STAMPS, st.floats(0, 2e11)))
def test_iso_of_fractions_equals_isoformat(seconds: float) -> None:
    assert iso(seconds) == datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_vllm_stamps_in_fixed_and_daylight_saving_zones() -> None:
    for tz in (timezone.utc, timezone(timedelta(hours=2)), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")):
        timeline = Timeline(2025, tz)
        for month in range(1, 13):
            for day in (1, 9, 28, 29, 30, 31):
                for hour in (0, 1, 2, 3, 23):
                    stamp = f"{month:02d}-{day:02d} {hour:02d}:30:59"
                    try:
                        expected: float | None = datetime(2025, month, day, hour, 30, 59, tzinfo=tz).timestamp()
                    except ValueError:
                        expected = None
                    assert timeline.resolve(LineContext(1, "x", None, stamp)) == expected, (tz, stamp)


FRACTIONS = st.one_of(
    st.just(""),
    st.integers(0, 10**9 - 1).map(lambda n: f".{n:09d}"),
    st.tuples(st.integers(1, 9), st.integers(0, 10**9 - 1)).map(lambda t: "." + f"{t[1]:09d}"[: t[0]]),
    # microseconds at the edge of a millisecond, the nanoseconds anywhere
    st.tuples(st.integers(0, 999), st.sampled_from([0, 1, 996, 997, 998, 999]), st.integers(0, 999))
    .map(lambda t: f".{t[0]:03d}{t[1]:03d}{t[2]:03d}"),
)
UTC_STAMPS = st.builds(
    lambda y, mo, d, h, mi, s, frac, z: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{z}",
    st.sampled_from([1969, 1970, 1999, 2024, 2025, 2026, 2037, 2038, 2100]), st.integers(1, 12), st.integers(1, 31),
    st.integers(0, 24), st.integers(0, 60), st.integers(0, 60), FRACTIONS, st.sampled_from(["Z", "z"]),
)


@settings(max_examples=5000, deadline=None)
@given(UTC_STAMPS)
def test_timeline_iso_reads_the_stamp_as_the_float_would(stamp: str) -> None:
    """Timeline.iso takes Docker's and CRI's stamp text as it is where that is safe; it must be
    what the float of the stamp gives through iso() in every case."""
    context = LineContext(1, "x", stamp, None)
    timeline = Timeline(2025)
    assert timeline.iso(context) == iso(timeline.resolve(context))
