"""The progress benchmark: jobs that say how far they are, 1-60 min long (the long jobs report progress), polled
by jobstep following their progress, against blind jobstep on the same jobs (measured in the same run: the
baseline) and the anchors.

Honest progress: a percent field ("37%", RDS's `process`) that grows roughly linearly, within +-10 % of the
truth, in whole percents; and 5-20 sub-jobs (ECS's `entities.sub_jobs`) ending at times spread over the job.
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
MAX_HONEST_POLL_RATIO = 0.5
MAX_HONEST_P95_RELATIVE_DELAY = 0.15
MAX_DECEPTIVE_RATIO = 1.1

Fraction = Callable[[float], float]  # the share of the job's time gone (0-1) -> the progress it reports (0-1)


def _phase(number: int) -> float:
    return random.Random(SEED * 7 + number).uniform(0, 2 * math.pi)


def honest(number: int) -> Fraction:
    """Roughly linear: off by at most 10 % of itself, and never going back (its slope stays positive)."""
    phase = _phase(number)
    return lambda x: x * (1 + 0.1 * math.sin(2 * math.pi * x + phase))


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
    honest: bool


WORKLOADS = [
    Workload("honest percent", Kind("rds", RDS, percent(honest)), True),
    Workload("honest sub-jobs", Kind("ecs", ECS, sub_jobs(spread_ends)), True),
    Workload("stalls partway", Kind("rds", RDS, percent(stalls)), False),
    Workload("jumps 0 % -> done", Kind("rds", RDS, percent(jumps)), False),
    Workload("stuck at 99 %", Kind("rds", RDS, percent(stuck_at_99)), False),
    Workload("goes back at mid-job", Kind("rds", RDS, percent(goes_back)), False),
    Workload("lopsided sub-jobs", Kind("ecs", ECS, sub_jobs(lopsided_ends)), False),
    Workload("sub-jobs end together", Kind("ecs", ECS, sub_jobs(together)), False),
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
        return (f"{row.name:<40} {row.mean_polls:>10.1f} {row.mean_polls / blind.mean_polls:>7.2f}"
                f" {row.p95_relative_delay:>18.3f} {row.p95_relative_delay / blind.p95_relative_delay:>7.2f}")

    lines += [line(row) for row in [blind, *anchors, oracle]] + [line(row) for _, row in following]
    checks = []
    for load, row in following:
        polls, delay = row.mean_polls / blind.mean_polls, row.p95_relative_delay / blind.p95_relative_delay
        if load.honest:
            checks.append((polls <= MAX_HONEST_POLL_RATIO and row.p95_relative_delay <= MAX_HONEST_P95_RELATIVE_DELAY,
                           f"{load.name}: polls {polls:.2f} x blind <= {MAX_HONEST_POLL_RATIO}, p95 delay/duration"
                           f" {row.p95_relative_delay:.3f} <= {MAX_HONEST_P95_RELATIVE_DELAY}"))
        else:
            checks.append((polls <= MAX_DECEPTIVE_RATIO and delay <= MAX_DECEPTIVE_RATIO,
                           f"{load.name}: polls {polls:.2f} x blind, p95 delay/duration {delay:.2f} x blind,"
                           f" each <= {MAX_DECEPTIVE_RATIO}"))
    lines += [f"  {verdict(ok)}  {text}" for ok, text in checks]
    points = [("1-60 min, no progress", row) for row in [blind, *anchors]]
    points += [(f"1-60 min, {load.name}", row) for load, row in following]
    return Report(lines, all(ok for ok, _ in checks), points)
