"""Model values: the times a job API writes and jobstep writes back, and the form of a region."""

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobstep.model import format_time, parse_time, valid_region


@pytest.mark.parametrize("text, expected", [
    ("2015-09-17T03:05:38.756Z", datetime(2015, 9, 17, 3, 5, 38, 756000, timezone.utc)),
    ("2015-09-17T03:05:38Z", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-09-17T11:05:38+08:00", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-09-17 03:05:38", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-02-30T00:00:00Z", None),
    ("", None),
    (None, None),
    (17, None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


# From year 1: a stateless call starts its loop at the job's begin_time, whatever year the job API says (strftime's %Y
# wrote year 1 as "1", which parse_time refused).
@given(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.just(timezone.utc)))
def test_started_at_survives_the_round_trip(moment):
    assert parse_time(format_time(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize("region, valid", [
    ("ap-southeast-1", True), ("cn-north-4", True), ("eu-west-101", True), ("la-south-2", True),
    ("AP-southeast-1", False), ("ap-southeast-1.", False), ("ap.southeast", False), ("ap-southeast-1\n", False),
])
def test_region_form(region, valid):
    assert valid_region(region) is valid
