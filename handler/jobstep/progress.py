"""Progress: how far a running job says it is (its percent field, its sub-jobs done of all, or its expected end),
how long it has left by the pace it has kept, and the next poll that this aims at, with the guards that keep a
wrong estimate from doing worse than blind polling. Pure functions of the job, the loop's last reading and time.

The aim is the soonest end the reading makes plausible, and the next poll comes a hedge past it: blind polling, on
the clock of that soonest end instead of the job's age. A job whose rest runs up to SPEED_UP times faster than it
has gone, or whose percent reads up to NOISE under the truth, ends no sooner than that, so it is seen at most a hedge
late; a reading that may mean done, or a pace that broke, is polled no later than blind polling would.
"""

import math
from datetime import datetime
from typing import NamedTuple, Optional

from .model import TRACK_DIGITS, Job, Progress, Track, parse_time

# How far off an honest percent may be, beyond its rounding: "roughly linear", not exactly.
NOISE = 0.1
# A percent field's rounding: most job APIs give whole percents ("60%").
PERCENT_QUANTUM = 0.01
# The rest of a job may run up to this many times faster than the fastest pace it has shown (a slow set-up, then a
# fast copy): its soonest end allows for that. At 2.5, jobs whose pace grows 4-5x right after a poll are seen up to
# 0.38 of their duration late (p95); at 4, honest jobs pay 4-5 % more polls (make bench, 8 seeds).
SPEED_UP = 3.25
# The next poll comes this share of the soonest end past it, as blind polling comes a share of the job's age past
# the last poll: a job that ends no sooner than its soonest end is seen at most this share of it late. Honest
# percents are promised a p95 of 0.15 of their duration; sub-jobs no worse than blind polling (a p95 near 0.21), less
# room for the counts that mislead by chance (make bench).
HEDGE = 0.15
COUNT_HEDGE = 0.17
# An aimed delay is at most this many times the job's age: 1 % after a minute says little of the rest, and a job
# that spent over a ninth of its time setting up before its first percent would be passed.
MAX_LEAP = 8.0
# A count of sub-jobs ended is read as the most of its time the job can have run: the Wilson score bound at this
# many standard deviations (one-sided, 94.5 %). Lower, counts that come early by chance make leaps past the end;
# higher, every count waits smaller steps (make bench).
COUNT_Z = 1.6


class Reading(NamedTuple):
    """What the job says of its progress now."""

    fraction: float  # 0-1
    source: str  # "percent", "sub_jobs" or "expected_end"
    quantum: float  # its rounding: a sub-job of all of them, a percent point
    # The most of the job that can be behind it if the reading is as honest as its source can be: of its work for a
    # percent or an expected end, of its time for a count of sub-jobs that end at scattered times.
    highest: float
    sub_jobs: Optional[tuple[int, int, int]] = None  # sub-jobs ended (succeeded or failed), failed, and in all


def latest_share(ended: int, free: int) -> float:
    """The most of its time a job can have run when `ended` of the `free` sub-jobs that end before it (all but its
    last) have ended, if they end at scattered times: the Wilson score bound of ended/free at COUNT_Z. A count
    tells the time only as well as a count can: 1 of 9 bounds it at 0.37 of the way, 8 of 9 at 0.97."""
    if ended >= free:
        return 1.0
    share, z2 = ended / free, COUNT_Z * COUNT_Z
    spread = COUNT_Z * math.sqrt(share * (1 - share) / free + z2 / (4 * free * free))
    return min(1.0, (share + z2 / (2 * free) + spread) / (1 + z2 / free))


def reading_of(job: Job, begun: datetime, now: datetime) -> Optional[Reading]:
    """The job's progress by the best source it gives: its own percent, else its sub-jobs, else its expected end."""
    total, done, failed = job.sub_jobs_total or 0, job.sub_jobs_done or 0, job.sub_jobs_failed or 0
    counts = (done, failed, total) if total else None
    if job.progress is not None:
        highest = min(1.0, (job.progress + PERCENT_QUANTUM) / (1 - NOISE))  # rounded down, and 10 % under
        return Reading(job.progress, "percent", PERCENT_QUANTUM, highest, counts)
    if total:
        return Reading(done / total, "sub_jobs", 1 / total, latest_share(done, total - 1), counts)
    end = parse_time(job.expected_end_time)
    if end is not None and end > begun:
        fraction = min(1.0, max(0.0, (now - begun).total_seconds() / (end - begun).total_seconds()))
        return Reading(fraction, "expected_end", 0.0, fraction)
    return None


# A pace measured over fewer steps of a reading than this is its rounding's noise (two sub-jobs that happened to
# end close together), not the job speeding up.
PACE_STEPS = 5


def _recent_pace(reading: Reading, at: float, last: Optional[Track]) -> Optional[float]:
    """The pace since the last reading, if it moved by PACE_STEPS or more."""
    if last is not None and at > last.at and reading.fraction - last.fraction >= PACE_STEPS * reading.quantum:
        return (reading.fraction - last.fraction) / (at - last.at)
    return None


def remaining(reading: Reading, age: float, at: float, last: Optional[Track]) -> Optional[float]:
    """Seconds left by the pace the job has kept: since it began, and since the last reading if it moved by
    PACE_STEPS or more; the sooner of the two (a job that sped up is not waited for at its old pace). None while it
    says nothing useful (0, or all done)."""
    fraction = reading.fraction
    if not 0 < fraction < 1:
        return None
    left = age * (1 - fraction) / fraction
    recent = _recent_pace(reading, at, last)
    return left if recent is None else min(left, (1 - fraction) / recent)


def soonest_end(reading: Reading, age: float, at: float, last: Optional[Track]) -> float:
    """The soonest age at which the job can plausibly end. A count: its age over the most of its time that can have
    gone. A percent or an expected end: the most it can have done, and the rest at SPEED_UP times the fastest pace
    it can have kept, since it began or since the last reading."""
    age = max(age, 1.0)
    highest = reading.highest
    if reading.source == "sub_jobs" or highest >= 1:
        return age / highest
    pace = max(highest / age, _recent_pace(reading, at, last) or 0.0)
    return age + (1 - highest) / (SPEED_UP * pace)


def aimed_delay(reading: Reading, age: float, at: float, last: Optional[Track], spread: float) -> Optional[float]:
    """Seconds to the soonest end plus the hedge past it, the hedge drawn down by `spread` (0-1, the jitter), never
    more than MAX_LEAP times the age; None while the reading says nothing (0 done)."""
    if reading.fraction <= 0:
        return None
    end = soonest_end(reading, age, at, last)
    hedge = COUNT_HEDGE if reading.source == "sub_jobs" else HEDGE
    return min(end - age + hedge * end * (1 - spread), MAX_LEAP * max(age, 1.0))


# A reading keeps up when it moved at least this share of what the job's earlier pace predicted (less a rounding
# step): honest progress wanders by its noise, a job that slowed to half its pace has stalled or been misread.
KEEPS_PACE = 0.7
# A count that has not moved although its pace predicted this many ends has stopped: sub-jobs ending at scattered
# times would all miss such a stretch less than once in a hundred (e^-4.6).
STALL_ENDS = 4.6
# A count of fewer sub-jobs than this is too coarse a clock to wait longer than blind polling for: each one is over a
# fifth of the job, and 1 of 4 ended bounds the end no better than "a third of its age away".
MIN_COUNT = 5


def follows(reading: Reading, age: float, at: float, last: Optional[Track]) -> bool:
    """Whether the estimate is worth waiting for: the reading does not allow the job to be done already (90 % may
    be 100 % read 10 % under; all sub-jobs but the last ended) and, after a first reading, it did not go back, and
    kept up with the pace the job had kept before. A percent must move at least KEEPS_PACE of what that pace
    predicted, less a rounding step (not moving is no news only where it predicted under half a step); a count,
    whose ends come at random, must hold MIN_COUNT sub-jobs or more and not stay still where its pace predicted
    STALL_ENDS ends. Else the aim is trusted only as far as blind polling would go."""
    coarse = reading.source == "sub_jobs" and reading.sub_jobs is not None and reading.sub_jobs[2] < MIN_COUNT
    if reading.highest >= 1 or coarse:
        return False
    if last is None:
        return True
    moved = round(reading.fraction - last.fraction, TRACK_DIGITS)  # as little as the track's rounding is no move
    last_age = age - (at - last.at)
    if reading.source == "sub_jobs" and reading.sub_jobs:
        ended_then = last.fraction * reading.sub_jobs[2]  # at the last reading
        return moved > 0 or (moved == 0 and ended_then * (at - last.at) / max(last_age, 1.0) < STALL_ENDS)
    expected = last.fraction / max(last_age, 1.0) * (at - last.at)  # how far its earlier pace carried it since
    if moved <= 0:
        return moved == 0 and expected < reading.quantum / 2
    return moved >= KEEPS_PACE * expected - reading.quantum


def report(reading: Optional[Reading], age: float, at: float, last: Optional[Track], done: bool) -> Optional[Progress]:
    """What the result says of the job's progress (`progress`): the reading, its sub-jobs and, while the job runs,
    the seconds left at its pace."""
    if reading is None:
        return None
    left = None if done else remaining(reading, age, at, last)
    return Progress(reading.fraction, reading.source, reading.sub_jobs, None if left is None else round(left))
