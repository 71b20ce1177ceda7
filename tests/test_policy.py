"""The delay policy's properties, exactly: bounds, jitter range, deadline cut, Retry-After, job age, and the
loop's next state."""

from datetime import datetime, timedelta, timezone
from typing import Optional

from hypothesis import given
from hypothesis import strategies as st
from jobstep import errors
from jobstep.model import Failure, FailureKind, Job, JobRef, Poll, Progress, Result, Track, Until, format_time
from jobstep.policy import DEFAULT_MAX_WAIT, Policy, Verdict, combine, ended_without_query

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
    # Its message says the max_wait it ran out of and the job's last status. Catches: either left out (None).
    assert f"max_wait ({MAX_WAIT} s)" in verdict.error.message and "status was RUNNING" in verdict.error.message


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
    # No grace without a start to count it from: the loop ends in an error. Catches: that verdict without its status.
    assert verdict.done and verdict.status == "ERROR" and verdict.error.type == "not_found"


def test_a_transient_error_just_before_the_deadline_is_retried_at_the_deadline():
    # Half a second is left: the retry comes at the deadline (a whole second, cut there), and only at the deadline
    # does the loop time out. Catches: a timeout a second early, or a retry whose `done` is not false.
    verdict, poll = POLICY.decide(Failure(FailureKind.HTTP, "", 503), LOOP, None,
                                  T0 + timedelta(seconds=MAX_WAIT - 0.5), 0.5)

    assert verdict.done is False and verdict.retry_after == 1 and poll.errors == LOOP.errors + 1


def test_jobstep_max_delay_below_a_minute_caps_the_backoff_too():
    # The README: the error backoff stops at 60 s or JOBSTEP_MAX_DELAY, whichever is less. Catches: a backoff capped
    # at 60 s only, past a max_delay of 30 s.
    capped = POLICY._replace(max_delay=30)

    verdict, _ = capped.decide(Failure(FailureKind.HTTP, "", 503), LOOP._replace(errors=10), None, T0, 0.999)

    assert verdict.retry_after == 30


def test_the_flows_blind_delay_counts_the_jobs_age_from_its_begin_time_too():
    # running_delay (the flow's sleeps) is the blind delay of decide: a job that began 250 s before the loop is
    # 250 s old. Catches: the job's begin_time ignored there.
    began = Job("RUNNING", begin_time=format_time(T0 - timedelta(seconds=250)))

    assert POLICY.running_delay(T0, began, T0, 10**9, 0.0) == round(POLICY.growth * 250)


NOT_FOUND = Failure(FailureKind.HTTP, "", 404)


def not_found(at: float, loop: Poll = LOOP, draw: float = 0.5):
    return POLICY.decide(NOT_FOUND, loop, None, T0 + timedelta(seconds=at), draw)


def test_a_404_is_waited_through_for_the_grace_and_not_a_second_more():
    # not_found_grace: within 60 s of the loop's start a 404 means "not visible yet": no job seen (UNKNOWN), asked
    # again after the blind delay drawn down by the jitter (growth x 59 s x (1 - 0.2 x 0.5): 13 s), counted as one
    # more transient error in a row; at 60 s the job is not found. Catches: a grace that takes in its last second,
    # a retry whose `done` is not false or without its status, the error count not moved on or moved by 2, or a
    # jitter that raises the delay or divides by the draw.
    verdict, poll = not_found(59)

    assert verdict.done is False and verdict.status == "UNKNOWN" and verdict.error.type == "not_found"
    assert verdict.error.retryable and verdict.retry_after == round(POLICY.growth * 59 * (1 - POLICY.jitter * 0.5))
    assert poll == Poll(LOOP.attempt + 1, T0, MAX_WAIT, LOOP.errors + 1)
    verdict, _ = not_found(60)
    assert verdict.done and verdict.status == "ERROR" and verdict.error.type == "not_found"


def test_a_404_in_the_grace_at_the_deadline_times_out_quoting_it():
    # A max_wait shorter than the grace: at the deadline the loop times out, and says the last problem was the 404;
    # half a second before, the 404 is retried at the deadline. Catches: a timeout a second early or none at the
    # deadline itself, or a timeout that leaves out the 404.
    short = LOOP._replace(max_wait=30)

    verdict, _ = not_found(30, short)
    assert verdict.done and verdict.status == "TIMEOUT"
    assert "The last problem was: The job was not found" in verdict.error.message
    verdict, _ = not_found(29.5, short)
    assert verdict.done is False and verdict.retry_after == 1


def test_a_call_that_ends_without_a_query_counts_itself_and_keeps_the_loops_state():
    # Invalid input, configuration, credentials, a bug: the loop ends in that error, and its state counts one more
    # call, keeps its start (a first call starts it now), its max_wait (the default when none was given) and its
    # last reading, with no transient error in a row. Catches: any of those dropped or miscounted, the default taken
    # over a given max_wait, the error count carried on, or the verdict without its status.
    problem = errors.internal(RuntimeError("a bug"))
    carried = Poll(attempt=4, started_at=T0, max_wait=600, errors=2, progress=Track(0.3, 100))

    verdict, poll = ended_without_query(problem, carried, T0 + timedelta(seconds=200))
    _, first = ended_without_query(problem, Poll(), T0)

    assert verdict == Verdict(True, "ERROR", None, problem)
    assert poll == Poll(5, T0, 600, 0, Track(0.3, 100))
    assert first == Poll(1, T0, DEFAULT_MAX_WAIT, 0, None)


def test_a_group_that_ended_still_shows_its_progress():
    # combine's progress, the mean of its jobs' fractions (a success counting whole), is the group's whether it
    # runs, succeeded or ended at a job that did not: (1 + 0.5) / 2. Catches: an ended group's verdict without it.
    won = Result(JobRef("a"), True, "SUCCESS", None, None, None, Poll())
    lost = Result(JobRef("b"), True, "FAIL", None, None, None, Poll(), Progress(0.5, "percent"))

    assert combine(Until.ALL, [won, won]).progress == Progress(1.0, "jobs")
    ended = combine(Until.ALL, [won, lost])
    assert ended.done and ended.status == "FAIL" and ended.progress == Progress(0.75, "jobs")
