"""Progress: what a running job says of how far it is, the estimate drawn from it, and the delay that follows it,
with the guards that keep a wrong estimate from doing worse than blind polling (issues 12 and 21).

The blind delay is the policy's decision for the same job saying nothing of its progress: each guard is checked
against that, not against numbers copied from the code. The promises (seen within 0.15 of its soonest end, a job
whose rest runs up to 3.25 times faster) are written out as numbers, so that a changed constant fails here.
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
from jobstep.model import Job, Poll, Progress, Status, Track, format_time
from jobstep.policy import Policy, Verdict

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
POLICY = Policy()


def decide(job: Job, age: float, last: Optional[Track] = None, policy: Policy = POLICY,
           draw: float = 0.0) -> tuple[Verdict, Poll]:
    """One decision for a loop that began with the job, `age` seconds ago; draw 0 is the undrawn delay."""
    return policy.decide(job, Poll(3, T0, 7200, 0, last), None, T0 + timedelta(seconds=age), draw)


def delay(job: Job, age: float, last: Optional[Track] = None, policy: Policy = POLICY, draw: float = 0.0) -> int:
    return decide(job, age, last, policy, draw)[0].retry_after


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


# --- honest progress: the next poll is a hedge past the soonest end the reading allows

# The promises, as numbers: a poll at most this share of the job's end past it, for a job whose rest runs up to
# this many times faster than the pace it has kept (a slow set-up, then a fast copy).
HEDGE, SPEED_UP = 0.15, 3.25

# Readings off by the most honest noise allows are the ones that mislead: drawn often.
honest_noise = st.sampled_from([-progress.NOISE, progress.NOISE]) | st.floats(-progress.NOISE, progress.NOISE)


def reported(share: float, noise: float) -> float:
    """A whole percent, off by `noise` of itself, as RDS's "process" gives it."""
    return math.floor(100 * min(0.99, share * (1 + noise))) / 100


@settings(max_examples=300)
@given(duration=st.floats(min_value=60, max_value=3600), share=st.floats(min_value=0.02, max_value=0.97),
       noise=honest_noise, earlier=st.floats(min_value=0.1, max_value=0.9), earlier_noise=honest_noise,
       with_last=st.booleans())
def test_honest_progress_is_seen_ending_at_most_a_hedge_late(duration, share, noise, earlier, earlier_noise,
                                                            with_last):
    # Catches: an aim at the estimated end rather than the soonest end the noise allows (half the jobs would be
    # late), a recent pace that can push the aim later, an aim that forgets the percent's rounding, or a hedge
    # above 0.15.
    fraction = reported(share, noise)
    assume(fraction > 0)
    age = share * duration
    last = Track(reported(share * earlier, earlier_noise), age * earlier) if with_last else None

    waited = delay(percent(fraction), age, last)
    assert age + waited <= (1 + HEDGE) * duration + 1


@settings(max_examples=300)
@given(duration=st.floats(min_value=60, max_value=3600), share=st.floats(min_value=0.02, max_value=0.97),
       faster=st.sampled_from([1.0, SPEED_UP]) | st.floats(1.0, SPEED_UP), noise=honest_noise,
       earlier=st.floats(min_value=0.1, max_value=0.9), earlier_noise=honest_noise, with_last=st.booleans())
def test_a_job_whose_rest_runs_faster_is_seen_ending_at_most_a_hedge_late(duration, share, faster, noise, earlier,
                                                                         earlier_noise, with_last):
    # A job that kept a steady pace until now, `share` of the way on its old pace, and runs the rest `faster`
    # times faster: a slow set-up, then a fast copy. Catches: an aim by the pace kept so far (issue 21: found a
    # whole duration late), a speed-up allowance below 3.25, or one taken from the slowest pace seen rather than the
    # fastest.
    fraction = reported(share, noise)
    assume(fraction > 0)
    age = share * duration
    end = age + (1 - share) * duration / faster
    last = Track(reported(share * earlier, earlier_noise), age * earlier) if with_last else None

    waited = delay(percent(fraction), age, last)
    assert age + waited <= (1 + HEDGE) * end + 1


def test_the_aim_is_the_soonest_end_if_the_rest_ran_faster_plus_the_hedge():
    # 50 % after 10 min may be 56.7 % (rounded down, 10 % under); its rest at 3.25 times that pace ends at
    # 741 s; the next poll comes 15 % of that later: 252 s from now. Catches: a changed speed-up allowance (3: 266 s;
    # 3.5: 241 s), hedge (0.2: 289 s) or noise.
    assert delay(percent(0.5), 600) == 252


def first_aim(fraction: float, age: float) -> float:
    """soonest_end and aimed_delay's rule for a first percent reading: the most it can have done (a percent point
    more, 10 % under), the rest SPEED_UP times faster than that pace, on a job taken as at least a second old (no
    pace at 0 s); the next poll from now to that end, and the hedge of it past it."""
    highest = (fraction + 0.01) / (1 - 0.1)
    clock = max(age, 1.0)
    end = clock + (1 - highest) / (SPEED_UP * highest / clock)
    return end - age + HEDGE * end


@pytest.mark.parametrize("age", [0.5, 1.5, 600])
def test_a_young_job_is_aimed_from_its_own_age(age):
    # In its first seconds as later: 20 % after half a second aims 1.8 s ahead, after 1.5 s 2.0 s. Catches: the
    # delay counted from an age raised to a second (1.3 s: 1), or a job counted at least 2 s old (3.1 s: 3).
    assert delay(percent(0.2), age) == round(first_aim(0.2, age))


def test_the_jitter_draws_down_the_hedge_only():
    # The top of the jitter range draws 20 % off the hedge (111 s of it), not off the whole delay: the next poll
    # never comes before the soonest end (141 s from now). Catches: the blind delay's jitter on an aimed delay
    # (202 s, before that end), or no jitter (252 s for every loop of a batch started together).
    assert delay(percent(0.5), 600, draw=0.999) == 230


def test_a_job_that_sped_up_is_aimed_by_its_recent_pace():
    # 20 % to 60 % in the last 50 s: the pace since the last reading, twice the pace since it began, sets the
    # soonest end. Catches: the whole history's pace only (63 s), or the slower of the two.
    assert delay(percent(0.6), 200, Track(0.2, 150)) == 44 < blind(200)


def test_the_time_left_of_a_job_that_sped_up_is_by_its_recent_pace():
    # The same job: the 40 % left at 0.8 % a second (its pace since the last reading) is 50 s, where the pace since it
    # began (0.3 % a second) says 133 s; the sooner is shown (remaining). Catches: the time left by the whole history
    # only (the last reading not passed on, or its pace ignored), or the rest taken as 1 + or 2 - the fraction.
    assert decide(percent(0.6), 200, Track(0.2, 150))[0].progress.eta_seconds == 50


def test_a_reading_at_the_same_moment_as_the_last_gives_no_pace():
    # A call repeated within the same instant: no time has passed since the last reading, so no recent pace, and the
    # aim is a first reading's. Catches: a pace divided by the zero seconds between them.
    assert delay(percent(0.6), 200, Track(0.2, 200)) == delay(percent(0.6), 200)


@pytest.mark.parametrize("earlier, eta", [(0.25, 100), (0.3, 200)])
def test_the_time_left_by_a_count_takes_a_recent_pace_from_five_sub_jobs(earlier, eta):
    # 10 of 20 ended at 200 s: 200 s left at the pace since it began. 5 of them ended in the last 50 s, a pace of
    # 0.1 a second: 100 s left; 4 are PACE_STEPS short, and do not count. Catches: a count's step other than one
    # sub-job (the count itself, or two).
    twenty = sub_jobs(*["SUCCESS"] * 10, *[None] * 10)

    assert decide(twenty, 200, Track(earlier, 150))[0].progress.eta_seconds == eta


def test_no_time_left_is_shown_for_a_job_that_ended_or_says_it_is_all_done():
    # remaining and report: an ended job has no time left, its progress shown as it said it; 100 % of a running job
    # says nothing of the time left (its pace would say 0 s). Catches: the time left of an ended job shown, or 100 %
    # read as 0 s left.
    ended = Job("SUCCESS", progress=0.5, outcome=Status.SUCCESS)

    assert decide(ended, 300)[0].progress == Progress(0.5, "percent", None, None)
    assert decide(percent(1.0), 300)[0].progress == Progress(1.0, "percent", None, None)


@pytest.mark.parametrize("earlier, waited", [(0.06, 269), (0.05, 21)])
def test_a_recent_pace_counts_from_five_steps(earlier, waited):
    # 4 % in a second is two readings' rounding; 5 % is a pace. Catches: a recent pace over fewer steps (a leap cut
    # to some 20 s by the rounding), or over more.
    assert delay(percent(0.1), 100, Track(earlier, 99)) == waited


def following_and_blind(harness, script, duration: float) -> list[tuple[int, float, str]]:
    """An RDS job of `duration` whose `process` follows `script`, and the same job saying nothing, each looped to its
    end: (polls, seconds seen after its end, last status) of each."""
    loops = []
    for job_id, scripted in (("following", script), ("blind", None)):
        harness.simulator.add_job(job_id, service="rds", init_seconds=0, run_seconds=duration,
                                  statuses=("Running", "Running"), outcome="Completed", script=scripted)
        started = harness.clock.now
        answers = harness.loop({"job_id": job_id, "service": "rds"})
        loops.append((len(answers), harness.clock.now - started - duration, answers[-1]["status"]))
    return loops


def test_honest_progress_takes_half_the_polls_of_blind_polling_and_is_seen_ending_soon(harness):
    # The whole loop, through the handler and the simulator's scripted RDS "process", against the same job
    # saying nothing. Catches: progress that is read but not followed, or followed past the end.
    duration = 1800

    def rds_percent(elapsed: float) -> dict[str, Any]:
        return {"progress": f"{math.floor(100 * min(0.99, elapsed / duration))}%" if elapsed < duration else ""}

    (following, late, status), (blind_polls, _, _) = following_and_blind(harness, rds_percent, duration)

    assert status == "SUCCESS" and following <= blind_polls / 2 and 0 <= late <= HEDGE * duration


def test_a_job_that_speeds_up_is_seen_ending_soon_with_fewer_polls_than_blind_polling(harness):
    # Issue 21's case through the handler: a slow set-up for half the job, then a copy three times faster, against
    # the same job saying nothing. Catches: an aim by the set-up's pace (the end it predicts is 3600 s: a whole
    # duration late), or a hedge so wary that it polls as often as blind polling.
    duration, change = 1800, 900
    pace = 1 / (change + 3 * (duration - change))

    def rds_percent(elapsed: float) -> dict[str, Any]:
        done = pace * min(elapsed, change) + 3 * pace * max(0.0, elapsed - change)
        return {"progress": f"{math.floor(100 * min(0.99, done))}%" if elapsed < duration else ""}

    (following, late, status), (blind_polls, _, _) = following_and_blind(harness, rds_percent, duration)

    assert status == "SUCCESS" and following < blind_polls and 0 <= late <= HEDGE * duration


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


@pytest.mark.parametrize("fraction, followed", [(0.4, True), (0.39, False)])
def test_progress_keeps_its_pace_from_seven_tenths_of_what_it_predicted_less_a_step(fraction, followed):
    # 20 % at 300 s predicts 30 % more by 750 s: it keeps up from 0.7 x 30 % - 1 % = 20 % (KEEPS_PACE, less a
    # percent step): 40 % moved exactly that, 39 % a step less. Catches: the boundary left out, or a step added
    # rather than taken off.
    waited = delay(percent(fraction), 750, Track(0.2, 300))

    assert (waited > blind(750)) is followed and (waited == blind(750)) is not followed


@pytest.mark.parametrize("still_for, followed", [(40, True), (50, False), (100, False)])
def test_a_percent_that_stays_still_is_no_news_only_while_its_pace_predicted_under_half_a_step(still_for, followed):
    # 10 % at 1000 s, a pace of 0.01 % a second: still 40 s later it predicted 0.4 %, under half a percent step (its
    # rounding hides it: no news); still 50 s later it predicted half a step, and 100 s later a whole one, where not
    # moving is a stop. Catches: a limit other than half a step (taken in, a third, twice a step), a still reading
    # judged as a move, or one never followed.
    age = 1000 + still_for
    waited = delay(percent(0.1), age, Track(0.1, 1000))

    assert (waited > blind(age)) is followed and (waited == blind(age)) is not followed


def test_a_percent_that_slows_is_judged_by_its_pace_since_it_began_even_in_its_first_seconds():
    # 10 % 1.5 s into the job predicts 13.3 % more by 3.5 s; 7 % is under 0.7 of that less a step (8.3 %): its pace
    # broke, and it is polled blind, though a first reading of 17 % would aim later. Catches: the earlier pace counted
    # over at least 2 s (10 % predicted, 6 % to keep up: followed).
    assert delay(percent(0.17), 3.5, Track(0.1, 1.5)) == blind(3.5) < delay(percent(0.17), 3.5)


def test_a_percent_that_stops_is_polled_blind_even_with_sub_jobs_listed():
    # Its percent is the reading, the sub-jobs are only shown: it is judged as a percent, which still after 100 s of
    # a pace that predicted 30 % more has stopped. Catches: a percent judged by the count's rule (still for less
    # than 4.6 of its ends: followed) because the job lists sub-jobs.
    job = Job("RUNNING", progress=0.3, sub_jobs_total=10, sub_jobs_done=3, sub_jobs_failed=0)

    assert delay(job, 200, Track(0.3, 100)) == blind(200)


@pytest.mark.parametrize("fraction", [0.0, None])
def test_a_job_at_zero_is_polled_blind(fraction):
    # 0 % says nothing of when the job ends (a job that jumps from 0 % to done). Catches: a division by zero,
    # or an aim at "never".
    assert delay(Job("RUNNING", progress=fraction), 300) == blind(300)


@pytest.mark.parametrize("fraction", [0.95, 0.99, 1.0])
def test_a_job_that_says_it_is_nearly_done_is_asked_within_the_hedge_of_its_age(fraction):
    # Job APIs hold 99 % (or even 100 %) until the job ends, and 90 % may be done (read 10 % under): it could end
    # now, so it is asked again within the hedge, and never later than blind polling, even on a first reading (blind
    # polling's cap, 180 s, binds from 20 min). Catches: a job stuck there asked a whole blind step later (a guard that
    # falls back to blind rather than the sooner of the two), a reading that allows done taken for an estimate, or, at
    # 100 %, a remaining time of zero aimed at forever.
    for age in (100, 1000, 3000):
        for last in (Track(fraction, age - 50), None):
            assert delay(percent(fraction), age, last) <= min(blind(age), HEDGE * age + 1)
    assert delay(percent(fraction), 1000, Track(fraction, 950)) == 150 < blind(1000)


@pytest.mark.parametrize("age, leap", [(5, 40), (1.5, 12), (0.5, 8)])
def test_a_tiny_fraction_early_leaps_at_most_eight_times_the_age(age, leap):
    # 1 % after 5 s says 8 minutes; the job may be slower to start than to run (a set-up over a ninth of it would be
    # passed). A job under a second old counts as a second old. Catches: an unbounded leap, or a bound other than 8
    # times the age (its aim is 79 s), or than 8 times a second.
    assert delay(percent(0.01), age) == leap


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


def test_sub_jobs_that_ended_all_but_one_are_asked_within_the_count_hedge_of_the_age():
    # Nine of ten ended: only the last is left, whose end is the job's and which no count foretells. The job could
    # end now: it is asked 17 % of its age later, never later than blind polling, however long the last one takes.
    # Catches: a leap on the count (nine tenths: "a ninth of its age left"), a count hedge other than 0.17, or a
    # guard that falls back to blind polling rather than the sooner of the two.
    nine = sub_jobs(*["SUCCESS"] * 9, None)

    assert delay(nine, 60) == delay(nine, 60, Track(0.9, 30)) == 10
    assert delay(nine, 600, Track(0.9, 60)) == 102 < blind(600)


@pytest.mark.parametrize("ended, free, share", [(1, 9, 0.368), (2, 9, 0.489), (8, 9, 0.974), (9, 9, 1.0), (0, 0, 1.0)])
def test_a_count_bounds_the_share_of_the_time_gone(ended, free, share):
    # The Wilson score bound at 1.6 standard deviations: 1 of 9 sub-jobs ended says at most 0.37 of the job's time
    # has gone (the job's end no sooner than 2.7 times its age). Catches: a changed bound (1.5: 0.350; 1.7: 0.387),
    # a count read as a fraction done (1/9), or a division by zero for a job of one sub-job.
    assert progress.latest_share(ended, free) == pytest.approx(share, abs=0.001)


@pytest.mark.parametrize("age, aimed", [(300, True), (330, False), (350, False)])
def test_a_count_that_stays_still_where_its_pace_predicted_five_ends_has_stopped(age, aimed):
    # 2 of 10 ended in the first 100 s: the pace of 2 per 100 s predicts 4 more by 300 s (none happens once in 55
    # for sub-jobs ending at random), exactly 4.6 by 330 s, and 5 by 350 s (once in 150). Catches: a stillness
    # threshold other than 4.6 ends, or 4.6 itself not a stop, a count that stopped still leaped on (sub-jobs of
    # which half end early and the rest with the job), or any stillness taken for a stop.
    two = sub_jobs("SUCCESS", "SUCCESS", *[None] * 8)
    waited = delay(two, age, Track(0.2, 100))

    assert (waited > blind(age)) is aimed and (waited == blind(age)) is not aimed


@pytest.mark.parametrize("total, aimed", [(4, False), (5, True)])
def test_a_count_of_fewer_than_five_sub_jobs_is_followed_no_further_than_blind_polling(total, aimed):
    # 1 of 4 ended after a minute bounds the end at 81 s at the soonest, 1 of 5 at 94 s: each sub-job of four is a
    # quarter of the job, too coarse a clock to wait longer than blind polling for (and `jobstep demo`'s four
    # sub-jobs are each seen ending). Catches: a smallest count other than 5, or none.
    waited = delay(sub_jobs("SUCCESS", *[None] * (total - 1)), 60)

    assert (waited > blind(60)) is aimed and (waited == blind(60)) is not aimed


def test_a_count_that_stays_still_is_judged_by_its_pace_since_it_began_even_in_its_first_seconds():
    # 2 of 10 ended 1.5 s into the job: a pace of 4/3 a second, which predicts 5.3 ends in the next 4 s; none is a
    # stop. Catches: the pace counted over at least 2 s (4 ends predicted: followed).
    two = sub_jobs("SUCCESS", "SUCCESS", *[None] * 8)

    assert delay(two, 5.5, Track(0.2, 1.5)) == blind(5.5) < delay(two, 5.5, Track(0.2, 5))


def test_a_count_that_moved_is_followed():
    # 2 of 10 at 200 s, 3 of 10 at 300 s: the count moved, and its aim is followed past blind polling, as that of a
    # count that stayed still less long than its pace allows. Catches: a count followed only when it stays still.
    three = sub_jobs(*["SUCCESS"] * 3, *[None] * 7)

    assert delay(three, 300, Track(0.2, 200)) == delay(three, 300, Track(0.3, 200)) > blind(300)


@pytest.mark.parametrize("job, counts", [
    (sub_jobs(*[None] * 5), (0, 0, 5)),
    (sub_jobs("SUCCESS", "SUCCESS", None, None, None), (2, 0, 5)),
    (percent(0.4), None),
    (Job("RUNNING", progress=0.4, sub_jobs_total=5, sub_jobs_done=2, sub_jobs_failed=1), (2, 1, 5)),
])
def test_the_progress_shows_the_sub_jobs_as_counted(job, counts):
    # Ended, failed and in all, as the job API counts them, whichever source the fraction comes from; none for a job
    # that lists none. Catches: none ended or none failed shown as one, (0, 0, 0) for a job without sub-jobs, or a
    # percent's reading that drops its job's counts.
    assert decide(job, 60)[0].progress.sub_jobs == counts


def test_a_count_that_went_back_is_polled_blind():
    # 5 of 10 at the last reading, 3 of 10 now (a listing that grew, a misread): the aim is not trusted.
    # Catches: a count that went back taken at its word (290 s, as from 3 of 10 that kept its pace).
    three = sub_jobs(*["SUCCESS"] * 3, *[None] * 7)

    assert delay(three, 300, Track(0.5, 200)) == blind(300) < delay(three, 300, Track(0.3, 200)) == 290


def test_a_count_of_few_sub_jobs_is_not_trusted_like_a_percent():
    # One sub-job of ten after a minute: its end could be within minutes, or much later. Catches: a count taken
    # for a percent (10 % after a minute: aim at nine minutes), which the next sub-job ending soon would make late.
    assert delay(sub_jobs("SUCCESS", *[None] * 9), 60) == 131 < delay(percent(0.1), 60)


def test_the_total_counts_sub_jobs_not_yet_listed():
    # ECS lists the sub-jobs it has begun; entities.sub_jobs_total counts them all.
    assert decide(sub_jobs("SUCCESS", None, total=4), 60)[0].progress.fraction == 0.25


def test_an_expected_end_time_gives_the_share_of_the_time_gone():
    job = Job("RUNNING", begin_time="2026-01-01T00:00:00Z", expected_end_time="2026-01-01T00:10:00Z")

    shown = decide(job, 150)[0].progress
    assert shown.source == "expected_end" and shown.fraction == 0.25


def expected_to_end(after: float) -> Job:
    return Job("RUNNING", begin_time=format_time(T0), expected_end_time=format_time(T0 + timedelta(seconds=after)))


def test_an_expected_end_passed_reads_all_the_time_gone_and_one_at_the_begin_time_nothing():
    # Catches: a share over 1 for a job past its expected end, or an expected end equal to its begin time divided by
    # (a job that gives no real one).
    assert decide(expected_to_end(100), 150)[0].progress == Progress(1.0, "expected_end", None, None)
    assert decide(expected_to_end(0), 150)[0].progress is None and delay(expected_to_end(0), 150) == blind(150)


@pytest.mark.parametrize("end, followed", [(400, True), (760, False)])
def test_an_expected_end_that_slips_is_polled_blind(end, followed):
    # A quarter of the time gone at 100 s (expected at 400 s): at 200 s half is, if it still says 400 s, and its aim
    # is followed; if it now says 760 s, a quarter moved to 26 %, far under the pace it had, and it is polled blind.
    # Catches: an expected end read with a rounding step (a whole one: every slip followed; none: a crash).
    waited = delay(expected_to_end(end), 200, Track(0.25, 100))

    assert (waited > blind(200)) is followed and (waited == blind(200)) is not followed


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
