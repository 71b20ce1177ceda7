"""The progress benchmark: jobs that say how far they are, 1-60 min long (the long jobs report progress), polled
by jobstep following their progress, against blind jobstep on the same jobs (measured in the same run: the
baseline) and the anchors.

Honest progress, a percent field ("37%", RDS's `process`) in whole percents, never going back, of several shapes:
linear within +-10 % of the truth; a power of the time gone (f**k, k 0.7-1.4) within +-8 %; an S-curve (slow,
fast, slow: its pace rising smoothly 1.5-3x from its slowest to its peak and falling back) within +-8 %. Then two
paces, a pace that changes at once, 2-5x, at 25-75 % of the job's time, faster (a slow set-up, then a fast copy) or
slower, within +-8 %: sharper than an S-curve, so held to fewer polls than blind polling and no later, rather than
half. And 5-20 sub-jobs (ECS's `entities.sub_jobs`) ending at times spread over the job, against their bound: blind
until the first ends, then an oracle.
Deceptive progress: a job that stalls partway and ends without moving again, one that jumps from 0 % to done,
one stuck at 99 % for its second half, one whose progress goes back by more than half at mid-job, and sub-jobs
of which all but one end in the first tenth of the job, and a batch whose sub-jobs all end with the job (none done
says nothing, so jobstep does not leap on it). Every job is driven through the real handler and the
simulator, as in polling.py.
"""

import math
import os
import random
from typing import Any, Callable, NamedTuple

from .polling import (
    ANCHORS,
    BLIND,
    KNOBS,
    SEED,
    Detection,
    Job,
    Kind,
    Report,
    Row,
    run_anchor,
    run_jobstep,
    summarise,
    verdict,
    workload,
)

JOBS = 300
SHORTEST, LONGEST = 60.0, 3600.0


class Target(NamedTuple):
    """What a workload must meet: its mean polls at most `polls` times blind jobstep's on the same jobs, and its
    p95 delay/duration at most `delay`, or `delay` times blind jobstep's when `relative`."""

    polls: float
    delay: float
    relative: bool


HONEST = Target(0.5, 0.15, False)  # a shape a job may honestly have: half the polls, seen within 0.15 of it
PACES = Target(0.7, 1.0, True)  # a pace that changes: fewer polls, never later than blind polling
SUB_JOBS = Target(0.65, 1.0, True)  # the bound ("blind until a sub-job ends, then oracle") is 0.50x
DECEPTIVE = Target(1.1, 1.1, True)  # the guards' cases: never worse than blind polling by more than 10 %

Fraction = Callable[[float], float]  # the share of the job's time gone (0-1) -> the progress it reports (0-1)


def _phase(number: int) -> float:
    return random.Random(SEED * 7 + number).uniform(0, 2 * math.pi)


def honest(number: int) -> Fraction:
    """Roughly linear: off by at most 10 % of itself, and never going back (its slope stays positive)."""
    phase = _phase(number)
    return lambda x: x * (1 + 0.1 * math.sin(2 * math.pi * x + phase))


# Honest progress of other shapes: whole percents, each off by at most NOISE of itself. The noise is a wave over the
# progress rather than over the time, so that it never makes a job go back.
NOISE = 0.08


def noisy(shape: Fraction, number: int) -> Fraction:
    phase = _phase(number)

    def share(x: float) -> float:
        done = shape(x)
        return done * (1 + NOISE * math.sin(2 * math.pi * done + phase))

    return share


def power(number: int) -> Fraction:
    """f**k, k log-uniform in 0.7-1.4: a job that slows down (k < 1) or speeds up (k > 1) all along."""
    k = math.exp(random.Random(SEED * 29 + number).uniform(math.log(0.7), math.log(1.4)))
    return noisy(lambda x: x**k, number)


def s_curve(number: int) -> Fraction:
    """Slow to start, fastest at one point (35-65 % of the time), slow to finish: its pace rises smoothly (a cosine)
    from 1/ratio of its peak to the peak and falls back, the ratio log-uniform 1.5-3."""
    rng = random.Random(SEED * 31 + number)
    ratio, peak = math.exp(rng.uniform(math.log(1.5), math.log(3))), rng.uniform(0.35, 0.65)

    def rise(x: float) -> float:  # the integral of the cosine bump, 0 at 0, 1/2 at 1
        if x <= peak:
            return x / 2 - peak * math.sin(math.pi * x / peak) / (2 * math.pi)
        return x / 2 + (1 - peak) * math.sin(math.pi * (x - peak) / (1 - peak)) / (2 * math.pi)

    low = 1 / ratio
    return noisy(lambda x: (low * x + (1 - low) * rise(x)) / (low + (1 - low) / 2), number)


def two_paces(speeds_up: bool) -> Callable[[int], Fraction]:
    """A pace that changes 2-5x (log-uniform) once, at 25-75 % of the job's time: a slow set-up, then a fast copy
    (`speeds_up`), or the reverse."""

    def fraction(number: int) -> Fraction:
        rng = random.Random(SEED * 37 + number)
        change, ratio = rng.uniform(0.25, 0.75), math.exp(rng.uniform(math.log(2), math.log(5)))
        later = ratio if speeds_up else 1 / ratio  # the second pace, in units of the first
        first = 1 / (change + later * (1 - change))
        return noisy(lambda x: first * min(x, change) + first * later * max(0.0, x - change), number)

    return fraction


def stalls(number: int) -> Fraction:
    stop = random.Random(SEED * 11 + number).uniform(0.2, 0.6)
    linear = honest(number)
    return lambda x: linear(min(x, stop))


def jumps(number: int) -> Fraction:
    return lambda x: 0.0


def stuck_at_99(number: int) -> Fraction:
    return lambda x: min(0.99, 2 * x)


def goes_back(number: int) -> Fraction:
    linear = honest(number)
    return lambda x: linear(x) if x < 0.5 else 0.2 + (x - 0.5) / 0.5 * 0.79


def percent(fraction: Callable[[int], Fraction]) -> Callable[[Job, int], Callable[[float], dict[str, Any]]]:
    """RDS's `process`: whole percents while the job runs, at most 99 %; "" once it has ended."""
    def script(job: Job, number: int) -> Callable[[float], dict[str, Any]]:
        share = fraction(number)

        def fields(elapsed: float) -> dict[str, Any]:
            if elapsed >= job.duration:
                return {"progress": ""}
            return {"progress": f"{math.floor(100 * min(0.99, max(0.0, share(elapsed / job.duration))))}%"}
        return fields
    return script


def spread_ends(number: int) -> list[float]:
    rng = random.Random(SEED * 13 + number)
    return sorted(rng.random() for _ in range(rng.randint(5, 20) - 1)) + [1.0]


def lopsided_ends(number: int) -> list[float]:
    rng = random.Random(SEED * 17 + number)
    return [rng.uniform(0, 0.1) for _ in range(rng.randint(5, 20) - 1)] + [1.0]


def together(number: int) -> list[float]:
    """A batch whose sub-jobs run side by side and end with the job (ECS creating servers at once)."""
    return [1.0] * random.Random(SEED * 23 + number).randint(5, 20)


def first_sub_job_oracle(jobs: list[Job], blind: list[Detection]) -> list[Detection]:
    """The honest sub-jobs' bound for any schedule that polls blind while no sub-job has ended ("0 of n" is also
    what a batch whose sub-jobs end together says): blind jobstep's polls before the first sub-job ends, then one
    poll exactly at the job's end."""
    return [Detection(sum(1 for age in run.ages if age < min(spread_ends(number)) * job.duration) + 1, 0.0,
                      job.duration) for number, (job, run) in enumerate(zip(jobs, blind))]


def sub_jobs(ends: Callable[[int], list[float]]) -> Callable[[Job, int], Callable[[float], dict[str, Any]]]:
    """ECS's sub-jobs: SUCCESS once their end has passed, RUNNING before; listed in no particular order."""
    def script(job: Job, number: int) -> Callable[[float], dict[str, Any]]:
        shares = ends(number)
        random.Random(SEED * 19 + number).shuffle(shares)

        def fields(elapsed: float) -> dict[str, Any]:
            listed = [{"status": "SUCCESS" if elapsed >= share * job.duration else "RUNNING",
                       "job_id": f"sub-{index}", "job_type": "createServer"} for index, share in enumerate(shares)]
            return {"sub_jobs": listed, "sub_jobs_total": len(shares)}
        return fields
    return script


RDS = ("Running", "Running", "Completed")
ECS = ("INIT", "RUNNING", "SUCCESS")


class Workload(NamedTuple):
    name: str
    kind: Kind
    target: Target


WORKLOADS = [
    Workload("honest percent", Kind("rds", RDS, percent(honest)), HONEST),
    Workload("power curve", Kind("rds", RDS, percent(power)), HONEST),
    Workload("S-curve", Kind("rds", RDS, percent(s_curve)), HONEST),
    Workload("two paces, speeds up", Kind("rds", RDS, percent(two_paces(True))), PACES),
    Workload("two paces, slows down", Kind("rds", RDS, percent(two_paces(False))), PACES),
    Workload("honest sub-jobs", Kind("ecs", ECS, sub_jobs(spread_ends)), SUB_JOBS),
    Workload("stalls partway", Kind("rds", RDS, percent(stalls)), DECEPTIVE),
    Workload("jumps 0 % -> done", Kind("rds", RDS, percent(jumps)), DECEPTIVE),
    Workload("stuck at 99 %", Kind("rds", RDS, percent(stuck_at_99)), DECEPTIVE),
    Workload("goes back at mid-job", Kind("rds", RDS, percent(goes_back)), DECEPTIVE),
    Workload("lopsided sub-jobs", Kind("ecs", ECS, sub_jobs(lopsided_ends)), DECEPTIVE),
    Workload("sub-jobs end together", Kind("ecs", ECS, sub_jobs(together)), DECEPTIVE),
]


def report() -> Report:
    """The table and the targets, whether every target is met, and the rows for the frontier."""
    work = workload(JOBS, SEED + 1, SHORTEST, LONGEST)
    knobs = {name: os.environ[name] for name in KNOBS if name in os.environ}
    blind_runs = run_jobstep(work, knobs, BLIND)
    blind = summarise("blind jobstep", blind_runs)
    oracle = summarise("blind until a sub-job ends, then oracle", first_sub_job_oracle(work, blind_runs))
    anchors = [summarise(name, run_anchor(work, schedule, first)) for name, schedule, first in ANCHORS]
    following = [(load, summarise(f"jobstep, {load.name}", run_jobstep(work, knobs, load.kind))) for load in WORKLOADS]
    lines = [
        f"Progress: {JOBS} jobs, durations log-uniform {SHORTEST / 60:.0f} - {LONGEST / 60:.0f} min (stratified,"
        f" seed {SEED + 1}); jobstep following each kind of progress, against blind jobstep on the same jobs",
        f"{'schedule':<40} {'mean polls':>10} {'x blind':>7} {'p95 delay/duration':>18} {'x blind':>7}",
    ]

    def line(row: Row) -> str:
        return (
            f"{row.name:<40} {row.mean_polls:>10.1f} {row.mean_polls / blind.mean_polls:>7.2f}"
            f" {row.p95_relative_delay:>18.3f} {row.p95_relative_delay / blind.p95_relative_delay:>7.2f}"
        )

    lines += [line(row) for row in [blind, *anchors, oracle]] + [line(row) for _, row in following]
    checks = []
    for load, row in following:
        polls, delay = row.mean_polls / blind.mean_polls, row.p95_relative_delay / blind.p95_relative_delay
        target = load.target
        bound = f" (bound: {oracle.mean_polls / blind.mean_polls:.2f})" if target is SUB_JOBS else ""
        if target.relative:
            delay_ok, delay_text = delay <= target.delay, f"{delay:.3f} x blind <= {target.delay}"
        else:
            delay_ok = row.p95_relative_delay <= target.delay
            delay_text = f"{row.p95_relative_delay:.3f} <= {target.delay}"
        checks.append(
            (
                polls <= target.polls and delay_ok,
                f"{load.name}: polls {polls:.3f} x blind <= {target.polls}{bound}, p95 delay/duration {delay_text}",
            )
        )
    lines += [f"  {verdict(ok)}  {text}" for ok, text in checks]
    points = [("1-60 min, no progress", row) for row in [blind, *anchors]]
    points += [(f"1-60 min, {load.name}", row) for load, row in following]
    return Report(lines, all(ok for ok, _ in checks), points)
