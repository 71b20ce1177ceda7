"""Progress: how far a running job says it is (its percent field, its sub-jobs done of all, or its expected end),
how long it has left by the pace it has kept, and the next poll that this aims at, with the guards that keep a
wrong estimate from doing worse than blind polling. Pure functions of the job, the loop's last reading and time.
"""

import math
from datetime import datetime
from typing import NamedTuple, Optional

from .model import TRACK_DIGITS, Job, Progress, Track, parse_time

# How far off an honest progress value may be, beyond its rounding: "roughly linear", not exactly.
NOISE = 0.1
# A percent field's rounding: most job APIs give whole percents ("60%").
PERCENT_QUANTUM = 0.01
# Near the estimated end, poll at this fraction of the estimated duration: a late end is then seen within it.
NEAR_END = 0.07
# An aimed delay is at most this many times the job's age: a wrong estimate costs a bounded wait, not an hour.
MAX_LEAP = 8.0


class Reading(NamedTuple):
    """What the job says of its progress now."""

    fraction: float  # 0-1
    source: str  # "percent", "sub_jobs" or "expected_end"
    quantum: float  # its rounding: a sub-job of all of them, a percent point
    highest: float  # the most the job can have done, if the reading is as honest as its source can be
    sub_jobs: Optional[tuple[int, int, int]] = None  # sub-jobs ended (succeeded or failed), failed, and in all


def _most_ended(done: int) -> float:
    """About the 95 % upper bound of a Poisson count seen as `done` (exactly 3.0 for 0, 4.7 for 1, 17.0 for 10):
    sub-jobs that end at scattered times tell the pace only as well as a count can."""
    return done + 1.645 * math.sqrt(done + 1) + 1.5


def reading_of(job: Job, begun: datetime, now: datetime) -> Optional[Reading]:
    """The job's progress by the best source it gives: its own percent, else its sub-jobs, else its expected end."""
    total, done, failed = job.sub_jobs_total or 0, job.sub_jobs_done or 0, job.sub_jobs_failed or 0
    counts = (done, failed, total) if total else None
    if job.progress is not None:
        highest = min(1.0, (job.progress + PERCENT_QUANTUM) / (1 - NOISE))  # rounded down, and 10 % under
        return Reading(job.progress, "percent", PERCENT_QUANTUM, highest, counts)
    if total:
        return Reading(done / total, "sub_jobs", 1 / total, min(1.0, _most_ended(done) / total), counts)
    end = parse_time(job.expected_end_time)
    if end is not None and end > begun:
        fraction = min(1.0, max(0.0, (now - begun).total_seconds() / (end - begun).total_seconds()))
        return Reading(fraction, "expected_end", 0.0, fraction)
    return None


# A pace measured over fewer steps of a reading than this is its rounding's noise (two sub-jobs that happened to
# end close together), not the job speeding up.
PACE_STEPS = 5


def remaining(reading: Reading, age: float, at: float, last: Optional[Track]) -> Optional[float]:
    """Seconds left by the pace the job has kept: since it began, and since the last reading if it moved by
    PACE_STEPS or more; the sooner of the two (a job that sped up is not waited for at its old pace). None while it
    says nothing useful (0, or all done)."""
    fraction = reading.fraction
    if not 0 < fraction < 1:
        return None
    left = age * (1 - fraction) / fraction
    if last is not None and at > last.at and fraction - last.fraction >= PACE_STEPS * reading.quantum:
        left = min(left, (at - last.at) * (1 - fraction) / (fraction - last.fraction))
    return left


# A reading keeps up when it moved at least this share of what the job's earlier pace predicted (less a rounding
# step): honest progress wanders by its noise, a job that slowed to half its pace has stalled or been misread.
KEEPS_PACE = 0.7


def follows(reading: Optional[Reading], age: float, at: float, last: Optional[Track]) -> bool:
    """Whether the reading is worth aiming at: it says something (neither 0 nor 100 %) and, after a first reading,
    it kept up with the pace the job had kept before, within a rounding step; a reading that did not move is no
    news only where the pace predicted less than half a step. A job that stalled, slowed or went back is polled
    blind instead."""
    if reading is None or not 0 < reading.fraction < 1:
        return False
    if last is None:
        return True
    last_age = max(age - (at - last.at), 1.0)
    expected = last.fraction / last_age * (at - last.at)  # how far its earlier pace would have carried it since
    moved = round(reading.fraction - last.fraction, TRACK_DIGITS)  # as little as the track's rounding is no move
    if moved <= 0:
        return moved == 0 and expected < reading.quantum / 2
    return moved >= KEEPS_PACE * expected - reading.quantum


def nearly_done(reading: Optional[Reading]) -> bool:
    """A percent within its own noise of done (APIs hold 99 % until the end): a job that stops there is asked again
    within that noise of its age, not a whole blind step later. One sub-job left says nothing of the time left."""
    return reading is not None and reading.source == "percent" and reading.fraction >= 1 - NOISE


def aimed_delay(reading: Reading, age: float, at: float, last: Optional[Track]) -> float:
    """Seconds to the soonest the job can end, if it has done the most its reading allows; near that end, a small
    fraction of its estimated duration; never more than MAX_LEAP times its age."""
    duration = age + (remaining(reading, age, at, last) or 0.0)
    soonest = duration * reading.fraction / reading.highest - age
    return min(max(soonest, NEAR_END * duration), MAX_LEAP * max(age, 1.0))


def report(reading: Optional[Reading], age: float, at: float, last: Optional[Track], done: bool) -> Optional[Progress]:
    """What the result says of the job's progress (`progress`): the reading, its sub-jobs and, while the job runs,
    the seconds left at its pace."""
    if reading is None:
        return None
    left = None if done else remaining(reading, age, at, last)
    return Progress(reading.fraction, reading.source, reading.sub_jobs, None if left is None else round(left))
