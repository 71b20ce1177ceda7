"""The delay policy's properties, exactly: bounds, jitter range, deadline cut, Retry-After, job age."""

from datetime import datetime, timedelta, timezone
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st
from jobstep.events import Poll, format_time
from jobstep.model import Failure, Job
from jobstep.policy import Policy

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = Policy()
LOOP = Poll(started_at=T0)
draws = st.floats(min_value=0, max_value=1, exclude_max=True)


def running(age: float, draw: float = 0.5, job: Optional[Job] = None):
    return POLICY.decide(job or Job("RUNNING"), LOOP, None, T0 + timedelta(seconds=age), draw)


@given(age=st.floats(min_value=0, max_value=POLICY.max_wait - 1), draw=draws)
def test_a_running_delay_is_whole_seconds_between_the_floor_and_the_cap(age, draw):
    verdict = running(age, draw)

    assert not verdict.done and isinstance(verdict.retry_after, int)
    assert 1 <= verdict.retry_after <= POLICY.max_delay


def test_the_delay_grows_with_the_jobs_age_up_to_the_cap():
    delays = [running(age, draw=0).retry_after for age in (0, 10, 60, 120, 300, 600, 3000)]

    assert delays == sorted(delays) and delays[0] == POLICY.min_delay and delays[-1] == POLICY.max_delay


@given(draw=draws)
def test_jitter_stays_within_its_range(draw):
    base = POLICY.growth * 200  # 40 s: between the floor and the cap

    assert round(base * (1 - POLICY.jitter)) <= running(200, draw).retry_after <= base


def test_jitter_spreads_loops_that_started_together():
    spread = {running(200, draw=i / 100).retry_after for i in range(100)}

    assert len(spread) >= 5


def test_same_inputs_same_verdict():
    assert running(123.4, 0.37) == running(123.4, 0.37)


@given(left=st.floats(min_value=0.01, max_value=POLICY.max_delay), draw=draws)
def test_the_last_delay_lands_at_the_deadline_not_past_it(left, draw):
    now = T0 + timedelta(seconds=POLICY.max_wait - left)

    verdict = POLICY.decide(Job("RUNNING"), LOOP, None, now, draw)

    uncut = POLICY.running_delay(T0, None, now, 10**9, draw)
    next_call = now + timedelta(seconds=verdict.retry_after)
    assert next_call < T0 + timedelta(seconds=POLICY.max_wait + 1)  # whole seconds: under 1 s past
    if uncut >= left:  # this is the last delay: the final query lands at the deadline
        assert next_call >= T0 + timedelta(seconds=POLICY.max_wait)


def test_at_the_deadline_the_verdict_is_timeout():
    verdict = running(POLICY.max_wait)

    assert verdict.done and verdict.status == "TIMEOUT" and verdict.retry_after is None


def test_age_counts_from_the_jobs_own_begin_time_when_it_is_earlier():
    began_long_ago = Job("RUNNING", begin_time=format_time(T0 - timedelta(seconds=250)))

    assert running(0, draw=0, job=began_long_ago).retry_after == round(POLICY.growth * 250)
    assert running(0, draw=0).retry_after == POLICY.min_delay


@given(retry_after=st.floats(min_value=0, max_value=600), errors=st.integers(0, 50), draw=draws)
def test_retry_after_is_honoured(retry_after, errors, draw):
    verdict = POLICY.decide(Failure("http", "", 429, retry_after=retry_after), LOOP._replace(errors=errors), None, T0,
                             draw)

    assert not verdict.done and verdict.retry_after >= retry_after - 0.5 and verdict.errors == errors + 1


def test_transient_errors_back_off_apart_from_the_jobs_age():
    def delay(errors: int, age: float) -> int:
        now = T0 + timedelta(seconds=age)
        return POLICY.decide(Failure("http", "", 503), LOOP._replace(errors=errors), None, now, 0.999).retry_after

    assert [delay(n, 0) for n in range(8)] == [2, 4, 8, 16, 32, 60, 60, 60]
    assert delay(0, 1000) == delay(0, 0)  # an old job does not make the first retry slow


def test_a_huge_error_count_cannot_blow_up():
    verdict = POLICY.decide(Failure("timeout", "slow"), LOOP._replace(errors=10**9), None, T0, 0.5)

    assert 1 <= verdict.retry_after <= POLICY.max_delay
