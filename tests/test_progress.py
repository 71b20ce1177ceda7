"""Progress: what a running job says of how far it is, the estimate drawn from it, and the delay that follows it,
with the guards that keep a wrong estimate from doing worse than blind polling (issue 12).

The blind delay is the policy's decision for the same job saying nothing of its progress: each guard is checked
against that, not against numbers copied from the code.
"""

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest
from helpers import apig, http
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jobstep import progress
from jobstep.config import load_config
from jobstep.model import Job, Poll, Track
from jobstep.policy import Policy, Verdict

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = Policy()


def decide(job: Job, age: float, last: Optional[Track] = None, policy: Policy = POLICY) -> tuple[Verdict, Poll]:
    """One decision for a loop that began with the job, `age` seconds ago; draw 0 is the undrawn delay."""
    return policy.decide(job, Poll(3, T0, 7200, 0, last), None, T0 + timedelta(seconds=age), 0.0)


def delay(job: Job, age: float, last: Optional[Track] = None, policy: Policy = POLICY) -> int:
    return decide(job, age, last, policy)[0].retry_after


def blind(age: float, policy: Policy = POLICY) -> int:
    return delay(Job("RUNNING"), age, policy=policy)


def percent(fraction: float) -> Job:
    return Job("RUNNING", progress=fraction)


def sub_jobs(*outcomes: Optional[str], total: Optional[int] = None) -> Job:
    listed = [{"status": outcome or "RUNNING", "job_id": f"sub-{number}", "outcome": outcome}
              for number, outcome in enumerate(outcomes)]
    job = Job.from_fields({"status": "RUNNING", "sub_jobs": listed, "sub_jobs_total": total})  # counted, as read
    assert job is not None
    return job


# --- without progress, the policy is today's


@pytest.mark.parametrize("job", [Job("RUNNING"), sub_jobs(), Job("RUNNING", sub_jobs_total=0)])
@pytest.mark.parametrize("age", [0, 30, 400, 2000])
def test_a_job_that_says_nothing_of_its_progress_is_polled_blind_even_after_one_that_did(job, age):
    # Catches: an old reading (poll.progress) aimed at when the job no longer says anything.
    assert delay(job, age, Track(0.5, max(age - 10, 0))) == blind(age)
    assert decide(job, age)[0].progress is None


# --- honest progress: the next poll is at the soonest the job can end, or a small step near that end


# Readings off by the most honest noise allows are the ones that mislead: drawn often.
honest_noise = st.sampled_from([-progress.NOISE, progress.NOISE]) | st.floats(-progress.NOISE, progress.NOISE)


def reported(share: float, noise: float) -> float:
    """A whole percent, off by `noise` of itself, as RDS's "process" gives it."""
    return math.floor(100 * min(0.99, share * (1 + noise))) / 100


@settings(max_examples=300)
@given(duration=st.floats(min_value=60, max_value=3600), share=st.floats(min_value=0.02, max_value=0.97),
       noise=honest_noise, earlier=st.floats(min_value=0.1, max_value=0.9), earlier_noise=honest_noise,
       with_last=st.booleans())
def test_honest_progress_is_waited_for_no_later_than_its_end_but_for_a_near_end_step(
        duration, share, noise, earlier, earlier_noise, with_last):
    # Catches: an aim at the estimated end rather than the soonest end the noise allows (half the jobs would be
    # late), a recent pace that can push the aim later, or an aim that forgets the percent's rounding.
    fraction = reported(share, noise)
    assume(fraction > 0)
    age = share * duration
    last = Track(reported(share * earlier, earlier_noise), age * earlier) if with_last else None

    waited = delay(percent(fraction), age, last)
    # Before the end, or a near-end step: a small share of the duration the reading says.
    assert age + waited <= duration + 1 or waited <= progress.NEAR_END * age / fraction + 1


def test_honest_progress_takes_half_the_polls_of_blind_polling_and_is_seen_ending_soon(harness):
    # The whole loop, through the handler and the simulator's scripted RDS "process", against the same job
    # saying nothing. Catches: progress that is read but not followed, or followed past the end.
    duration = 1800

    def rds_percent(elapsed: float) -> dict[str, Any]:
        return {"progress": f"{math.floor(100 * min(0.99, elapsed / duration))}%" if elapsed < duration else ""}

    loops = []
    for job_id, script in (("following", rds_percent), ("blind", None)):
        harness.simulator.add_job(job_id, service="rds", init_seconds=0, run_seconds=duration,
                                  statuses=("Running", "Running"), outcome="Completed", script=script)
        started = harness.clock.now
        answers = harness.loop({"job_id": job_id, "service": "rds"})
        loops.append((len(answers), harness.clock.now - started - duration, answers[-1]["status"]))
    (following, late, status), (blind_polls, _, _) = loops

    assert status == "SUCCESS" and following <= blind_polls / 2 and 0 <= late <= 0.1 * duration


def test_the_estimate_of_the_time_left_follows_the_jobs_pace(harness):
    # A 20-minute job at a steady pace: a third of the way, and two thirds. Catches: an ETA counted from the
    # loop's start rather than the job's, or from the fraction left rather than the pace.
    duration = 1200
    harness.simulator.add_job("job-1", service="rds", init_seconds=0, run_seconds=duration,
                              statuses=("Running", "Running"), outcome="Completed",
                              script=lambda elapsed: {"progress": f"{math.floor(100 * elapsed / duration)}%"})
    harness.clock.advance(duration / 3)
    first = harness.call({"job_id": "job-1", "service": "rds"})
    harness.clock.advance(duration / 3)
    second = harness.call(first)

    assert first["progress"]["source"] == "percent" and first["progress"]["fraction"] == pytest.approx(1 / 3, abs=0.01)
    assert first["progress"]["eta_seconds"] == pytest.approx(2 / 3 * duration, rel=0.05)
    assert second["progress"]["eta_seconds"] == pytest.approx(1 / 3 * duration, rel=0.05)
    assert second["poll"]["progress"]["fraction"] == pytest.approx(2 / 3, abs=0.01)


# --- deceptive progress: polled blind, or sooner, never later


def test_progress_that_stops_is_polled_blind():
    # 30 % at 100 s and still 30 % at 200 s, where its pace said 60 %. Catches: aiming at an end the job left.
    assert delay(percent(0.3), 200, Track(0.3, 100)) == blind(200)


def test_progress_that_goes_back_is_polled_blind():
    assert delay(percent(0.2), 200, Track(0.5, 100)) == blind(200)


def test_progress_that_slows_well_below_its_pace_is_polled_blind():
    # It predicted 30 % more and moved 5 %: a job that changed phase, whose earlier pace no longer holds.
    assert delay(percent(0.35), 200, Track(0.3, 100)) == blind(200)


def test_progress_that_keeps_its_pace_is_followed():
    # The counterpart of the three above: the guards are not simply always on.
    assert delay(percent(0.6), 200, Track(0.3, 100)) > blind(200)


@pytest.mark.parametrize("fraction", [0.0, None])
def test_a_job_at_zero_is_polled_blind(fraction):
    # 0 % says nothing of when the job ends (a job that jumps from 0 % to done). Catches: a division by zero,
    # or an aim at "never".
    assert delay(Job("RUNNING", progress=fraction), 300) == blind(300)


@pytest.mark.parametrize("fraction", [0.95, 0.99, 1.0])
def test_a_job_that_says_it_is_nearly_done_is_asked_within_a_tenth_of_its_age(fraction):
    # Job APIs hold 99 % (or even 100 %) until the job ends. Catches: a job stuck there asked a whole blind step
    # later, or, at 100 %, a remaining time of zero aimed at forever.
    for age in (100, 1000, 3000):
        assert delay(percent(fraction), age, Track(fraction, age - 50)) <= min(blind(age), 0.1 * age + 1)


def test_a_tiny_fraction_early_leaps_at_most_max_leap_times_the_age():
    # 1 % after 5 s says 8 minutes; the job may be slower to start than to run. Catches: an unbounded leap.
    assert delay(percent(0.01), 5) <= progress.MAX_LEAP * 5


@pytest.mark.parametrize("fraction", [1e-300, 1e-310, 4e-5])
def test_a_fraction_below_the_tracks_resolution_says_nothing(fraction):
    # Catches: a job at 1e-300 taken at its word (a leap of MAX_LEAP times its age, and a 305-digit eta_seconds),
    # or 1e-310 (an OverflowError).
    job = Job.from_fields({"status": "RUNNING", "progress": fraction})
    assert job is not None and job.progress == 0
    assert delay(job, 400) == blind(400) and decide(job, 400)[0].progress.eta_seconds is None


def test_sub_jobs_listed_in_any_order_read_the_same():
    ordered = sub_jobs("SUCCESS", "SUCCESS", "FAIL", None, None)
    shuffled = sub_jobs(None, "FAIL", None, "SUCCESS", "SUCCESS")

    assert decide(ordered, 600)[0] == decide(shuffled, 600)[0]
    assert decide(ordered, 600)[0].progress.sub_jobs == (3, 1, 5)


def test_sub_jobs_that_ended_early_all_but_one_are_polled_blind_once_they_stop():
    # Nine of ten done in the first minute, the last one for an hour. Catches: aiming at an end from a count that
    # stopped (the second reading moved nothing where its pace said more).
    nine = sub_jobs(*["SUCCESS"] * 9, None)
    first = delay(nine, 60)

    assert delay(nine, 60 + first, Track(0.9, 60)) == blind(60 + first)


def test_a_count_of_few_sub_jobs_is_not_trusted_like_a_percent():
    # One sub-job of ten after a minute: its end could be within minutes, or much later. Catches: a count taken
    # for a percent (10 % after a minute: aim at nine minutes), which the next sub-job ending soon would make late.
    assert delay(sub_jobs("SUCCESS", *[None] * 9), 60) < delay(percent(0.1), 60)


def test_the_total_counts_sub_jobs_not_yet_listed():
    # ECS lists the sub-jobs it has begun; entities.sub_jobs_total counts them all.
    assert decide(sub_jobs("SUCCESS", None, total=4), 60)[0].progress.fraction == 0.25


def test_an_expected_end_time_gives_the_share_of_the_time_gone():
    job = Job("RUNNING", begin_time="2026-01-01T00:00:00Z", expected_end_time="2026-01-01T00:10:00Z")

    shown = decide(job, 150)[0].progress
    assert shown.source == "expected_end" and shown.fraction == 0.25


# --- the cap


def test_jobstep_max_delay_caps_delays_aimed_by_progress_as_well(tmp_path):
    # The README's promise: JOBSTEP_MAX_DELAY is the longest retry_after. Unset, a job whose progress says its
    # end is far is asked later than the blind cap. Catches: either default lost, or a cap that binds one kind only.
    def read_file(name: str) -> str:
        raise FileNotFoundError(name)

    capped = load_config({"JOBSTEP_MAX_DELAY": "120"}, read_file).policy
    default = load_config({}, read_file).policy
    far = percent(0.2), 900, Track(0.1, 450)

    assert delay(*far, policy=capped) <= 120 < 180 < delay(*far, policy=default)


# --- the loop's state carries the last reading


def test_api_gateway_carries_the_last_reading_in_the_location(harness):
    # Catches: a Location without the track (every GET would start blind and show no ETA).
    harness.simulator.add_job("job-1", service="rds", init_seconds=0, run_seconds=1000,
                              statuses=("Running", "Running"), outcome="Completed",
                              script=lambda elapsed: {"progress": f"{math.floor(elapsed / 10)}%"})
    harness.clock.advance(200)
    first = harness.call(apig(body={"job_id": "job-1", "service": "rds"}))
    query = dict(parse_qsl(urlsplit(first["headers"]["Location"]).query))
    harness.clock.advance(200)
    second = harness.call(apig(path={"job_id": "job-1"}, query=query))

    assert first["statusCode"] == 202 and http(first)["progress"]["fraction"] == 0.2
    assert query["progress"] == "0.2" and float(query["progress_at"]) == 0
    assert second["statusCode"] == 202 and http(second)["poll"]["progress"] == {"fraction": 0.4, "at": 200}


@pytest.mark.parametrize("query, says", [
    ({"progress": "0.2"}, "go together"),
    ({"progress_at": "12"}, "go together"),
    ({"progress": "-0.2", "progress_at": "12"}, "must be a number"),
    ({"progress": "2", "progress_at": "12"}, "fraction 0-1"),
    ({"progress": "0.2", "progress_at": "1e9"}, "must be a number"),
])
def test_a_location_with_a_broken_reading_is_refused(harness, query, says):
    # A careless caller who edits the Location. Catches: a reading taken on trust (a fraction of 2 aims badly).
    state = {"job_id": "job-1", "started_at": "2026-01-01T00:00:00Z", "attempt": "2", "errors": "0",
             "max_wait": "3600"}
    answer = harness.call(apig(query={**state, **query}))

    assert answer["statusCode"] == 400 and says in http(answer)["error"]["message"] and harness.requests == 0


@pytest.mark.parametrize("reading", [{"fraction": 1.5, "at": 3}, {"fraction": 0.5}, "half", {"fraction": True,
                                                                                                "at": 3}])
def test_a_fed_back_result_with_a_broken_reading_is_invalid_input(harness, reading):
    result = {"job_id": "job-1", "poll": {"attempt": 2, "started_at": "2026-01-01T00:00:00Z", "max_wait": 3600,
                                          "errors": 0, "progress": reading}}

    answer = harness.call(result)

    assert answer["error"]["type"] == "invalid_input" and "poll.progress" in answer["error"]["message"]
