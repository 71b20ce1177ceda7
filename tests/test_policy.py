"""The delay policy's properties, exactly: bounds, jitter range, deadline cut, Retry-After, job age, and the
loop's next state."""

from datetime import datetime, timedelta, timezone
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st
from jobstep.model import Failure, FailureKind, Job, Poll, format_time
from jobstep.policy import Policy

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = Policy()
MAX_WAIT = 3600
LOOP = Poll(attempt=4, started_at=T0, max_wait=MAX_WAIT, errors=2)
draws = st.floats(min_value=0, max_value=1, exclude_max=True)


def running(age: float, draw: float = 0.5, job: Optional[Job] = None):
    verdict, _ = POLICY.decide(job or Job("RUNNING"), LOOP, None, T0 + timedelta(seconds=age), draw)
    return verdict


def failing(failure: Failure, errors: int, age: float = 0, draw: float = 0.5):
    verdict, _ = POLICY.decide(failure, LOOP._replace(errors=errors), None, T0 + timedelta(seconds=age), draw)
    return verdict


@given(age=st.floats(min_value=0, max_value=MAX_WAIT - 1), draw=draws)
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


def test_the_draw_is_the_only_randomness():
    # The README's rule: growth x age, drawn down by up to `jitter`; draw 0 is the top, a draw near 1 the bottom.
    # Catches: a policy that draws its own random numbers, or ignores `draw`.
    base = POLICY.growth * 200

    assert {running(200, draw=0.0).retry_after for _ in range(50)} == {round(base)}
    assert {running(200, draw=0.999).retry_after for _ in range(50)} == {round(base * (1 - POLICY.jitter * 0.999))}


@given(left=st.floats(min_value=0.01, max_value=POLICY.max_delay), draw=draws)
def test_the_last_delay_lands_at_the_deadline_not_past_it(left, draw):
    now = T0 + timedelta(seconds=MAX_WAIT - left)

    verdict, _ = POLICY.decide(Job("RUNNING"), LOOP, None, now, draw)

    uncut = POLICY.running_delay(T0, None, now, 10**9, draw)
    next_call = now + timedelta(seconds=verdict.retry_after)
    assert next_call < T0 + timedelta(seconds=MAX_WAIT + 1)  # whole seconds: under 1 s past
    if uncut >= left:  # this is the last delay: the final query lands at the deadline
        assert next_call >= T0 + timedelta(seconds=MAX_WAIT)


def test_at_the_deadline_the_verdict_is_timeout():
    verdict = running(MAX_WAIT)

    assert verdict.done and verdict.status == "TIMEOUT" and verdict.retry_after is None


def test_a_timeout_after_a_transient_error_quotes_it_without_promising_a_retry():
    # Catches: the last problem's "Will retry." carried into the message of a loop that has ended.
    verdict, _ = POLICY.decide(Failure(FailureKind.TIMEOUT, "read timed out"), LOOP, None,
                               T0 + timedelta(seconds=MAX_WAIT), 0.5)

    assert verdict.done and verdict.status == "TIMEOUT"
    assert "read timed out" in verdict.error.message and "retry" not in verdict.error.message.lower()


def test_age_counts_from_the_jobs_own_begin_time_when_it_is_earlier():
    began_long_ago = Job("RUNNING", begin_time=format_time(T0 - timedelta(seconds=250)))

    assert running(0, draw=0, job=began_long_ago).retry_after == round(POLICY.growth * 250)
    assert running(0, draw=0).retry_after == POLICY.min_delay


@given(retry_after=st.floats(min_value=0, max_value=600), errors=st.integers(0, 50), draw=draws)
def test_retry_after_is_honoured(retry_after, errors, draw):
    verdict, poll = POLICY.decide(Failure(FailureKind.HTTP, "", 429, retry_after=retry_after),
                                  LOOP._replace(errors=errors), None, T0, draw)

    assert not verdict.done and verdict.retry_after >= retry_after - 0.5 and poll.errors == errors + 1


def test_transient_errors_back_off_apart_from_the_jobs_age():
    def delay(errors: int, age: float) -> int:
        return failing(Failure(FailureKind.HTTP, "", 503), errors, age, draw=0.999).retry_after

    assert [delay(n, 0) for n in range(8)] == [2, 4, 8, 16, 32, 60, 60, 60]
    assert delay(0, 1000) == delay(0, 0)  # an old job does not make the first retry slow


def test_the_floor_holds_for_errors_too():
    # JOBSTEP_MIN_DELAY is the shortest retry_after there is: a 503 waits for it even above the 60 s backoff cap.
    floor = POLICY._replace(min_delay=120, max_delay=300)

    verdict, _ = floor.decide(Failure(FailureKind.HTTP, "", 503), LOOP, None, T0, 0.999)

    assert verdict.retry_after == 120


def test_a_huge_error_count_cannot_blow_up():
    verdict = failing(Failure(FailureKind.TIMEOUT, "slow"), 10**9)

    assert 1 <= verdict.retry_after <= POLICY.max_delay


def test_decide_moves_the_loop_on_and_nothing_else_does():
    _, after_running = POLICY.decide(Job("RUNNING"), LOOP, None, T0 + timedelta(seconds=30), 0.5)
    _, after_error = POLICY.decide(Failure(FailureKind.HTTP, "", 503), LOOP, None, T0, 0.5)
    _, first = POLICY.decide(Job("RUNNING"), Poll(), None, T0, 0.5)

    assert after_running == Poll(LOOP.attempt + 1, T0, MAX_WAIT, 0)  # a job seen clears the error count
    assert after_error == Poll(LOOP.attempt + 1, T0, MAX_WAIT, LOOP.errors + 1)
    assert first.attempt == 1 and first.started_at == T0  # a loop starts at its first call


def test_a_stateless_call_counts_its_deadline_from_the_jobs_begin_time():
    stateless = Poll(stateless=True, max_wait=600)
    began = Job("RUNNING", begin_time=format_time(T0 - timedelta(seconds=900)))

    verdict, poll = POLICY.decide(began, stateless, None, T0, 0.5)

    assert verdict.done and verdict.status == "TIMEOUT" and poll.started_at == T0 - timedelta(seconds=900)
    verdict, _ = POLICY.decide(Failure(FailureKind.HTTP, "", 404), stateless, None, T0, 0.5)
    assert verdict.done and verdict.error.type == "not_found"  # no grace without a start to count it from
