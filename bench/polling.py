"""The polling benchmark: polls per job and detection delay of jobstep against the well-known pollers.

jobstep runs as deployed: the real handler answers every call from the loopback simulator, both on one
simulated clock, and the loop feeds each answer back `retry_after` seconds later, as an orchestrator does.
The anchors are the published schedules of ../shared/reference/polling-anchors.md, computed on the same
job durations without HTTP. Conventions shared by all: the first poll is made at submission (Terraform's
5-s Delay is part of its schedule), every wait is whole seconds (an orchestrator's wait state takes whole
seconds, and so does jobstep's retry_after: the anchors' delays are rounded to the nearest, at least 1 s),
and a poll made at or after the job's end sees it ended.
"""

import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable, NamedTuple, Optional

from jobstep.client import new_session
from jobstep.step import Runtime, handle
from jobstep_tools.local import Clock, LocalContext
from jobstep_tools.loop import loop, result_of
from jobstep_tools.simulator import JobSimulator

SEED = 20261128
JOBS = 1000
SHORTEST, LONGEST = 2.0, 30 * 60.0
START = 1_790_000_000.0
SPACING = 2 * 3600.0  # jobs are driven one after another, each on its own stretch of the simulated clock
PROJECT = "0b2c4e6a8f1d43b5a7c9e1f3a5b7c9d1"
KEYS = ("BENCHAKJOBSTEP000001", "benchSecretKeyOfTheAgency000000000000000", "benchToken")  # an agency's
# The delay policy's knobs, passed to the handler's environment when set (as on a deployed function).
KNOBS = ("JOBSTEP_MIN_DELAY", "JOBSTEP_MAX_DELAY", "JOBSTEP_DELAY_GROWTH")

MAX_MEAN_POLLS = 19
MAX_P95_RELATIVE_DELAY = 0.25


@dataclass(frozen=True)
class Job:
    submitted: float  # fractional: real submissions are not aligned to whole seconds
    duration: float


@dataclass(frozen=True)
class Detection:
    polls: int
    delay: float  # from the job's end to the poll that saw it ended
    duration: float
    ages: tuple[float, ...] = ()  # when each poll came, from the job's submission (jobstep's runs only)


@dataclass(frozen=True)
class Row:
    name: str
    mean_polls: float
    p95_polls: float
    mean_delay: float
    p95_delay: float
    p95_relative_delay: float


def workload(jobs: int, seed: int, shortest: float = SHORTEST, longest: float = LONGEST) -> list[Job]:
    """Durations log-uniform between `shortest` and `longest`: as many short jobs as long ones.

    Stratified, one duration drawn in each of `jobs` equal slices of log-duration: independent draws would
    move this many jobs' mean polls by +-0.3 and their p95 delay/duration by +-0.01 from seed to seed,
    as much as the margin to the targets; stratified, by +-0.01 and +-0.003.
    """
    rng = random.Random(seed)
    low, high = math.log(shortest), math.log(longest)
    durations = [math.exp(low + (i + rng.random()) / jobs * (high - low)) for i in range(jobs)]
    return [Job(START + i * SPACING + rng.random(), duration) for i, duration in enumerate(durations)]


class Kind(NamedTuple):
    """How the simulated jobs report themselves: the job API, its words for queued/running/success, and what the
    job says of its progress as it runs (a script per job, from elapsed seconds to the service's own fields)."""

    service: str = "elb"
    statuses: tuple[str, str, str] = ("INIT", "RUNNING", "SUCCESS")
    script: Optional[Callable[[Job, int], Callable[[float], dict[str, Any]]]] = None  # (job, its number) -> script


BLIND = Kind()


def run_jobstep(jobs: Sequence[Job], knobs: dict[str, str], kind: Kind = BLIND) -> list[Detection]:
    """Each job's loop through the real handler; a poll is a call, the last one (that sees the end) included."""
    clock = Clock(START)
    detections = []
    ak, sk, token = KEYS
    with JobSimulator(PROJECT, {ak: (sk, token)}, clock=clock) as simulator:
        runtime = Runtime(
            session=new_session(),
            environ={"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT,
                     "JOBSTEP_SERVICE": kind.service, **knobs},
            clock=clock,
            draw=random.Random(SEED).random,
            log=lambda line: None,
        )
        first, running, success = kind.statuses
        for number, job in enumerate(jobs):
            clock.now = job.submitted
            # Queued for a second, as jobs are; the rest running.
            simulator.add_job(f"job-{number}", init_seconds=1.0, run_seconds=job.duration - 1.0, service=kind.service,
                              statuses=(first, running), outcome=success,
                              script=kind.script(job, number) if kind.script else None)
            # Each call of the loop and when it came, from the job's submission.
            calls = [(answer, clock.now - job.submitted) for answer in loop(
                {"job_id": f"job-{number}"}, lambda event: result_of(handle(event, LocalContext(*KEYS), runtime)),
                clock.advance)]
            answer, ages = calls[-1][0], [age for _, age in calls]
            if answer["status"] != "SUCCESS":  # anything else would measure a broken loop, not the schedule
                raise RuntimeError(f"job-{number} ended {answer['status']}: {answer['error']}")
            detections.append(Detection(len(ages), clock.now - job.submitted - job.duration, job.duration,
                                        tuple(ages)))
    return detections


Schedule = Callable[[random.Random], Iterator[float]]  # successive waits, in seconds


def fixed(seconds: float) -> Schedule:
    return lambda rng: (seconds for _ in count())


def terraform_huaweicloud(rng: random.Random) -> Iterator[float]:
    """StateChangeConf with Delay 5 s and PollInterval 10 s, as the provider's ECS/EVS job waits set it."""
    yield 5
    while True:
        yield 10


def smithy(rng: random.Random) -> Iterator[float]:
    """Smithy waiters' defaults: random(minDelay, min(maxDelay, minDelay * 2^(attempt - 1)))."""
    for attempt in count(1):
        yield rng.uniform(2, min(120, 2 * 2 ** min(attempt - 1, 16)))


def google_api_core(rng: random.Random) -> Iterator[float]:
    """Operation polling as the reference gives it: 1 s, times 1.5 each time, capped at 20 s."""
    delay = 1.0
    while True:
        yield delay
        delay = min(20.0, delay * 1.5)


# (name, schedule, whether it waits before its first poll)
ANCHORS: list[tuple[str, Schedule, bool]] = [
    ("fixed 5 s", fixed(5), False),
    ("fixed 15 s", fixed(15), False),
    ("Terraform HWC (5 s, then 10 s)", terraform_huaweicloud, True),
    ("Smithy (2-120 s, full jitter)", smithy, False),
    ("google-api-core (1 s x1.5, 20 s)", google_api_core, False),
]


def run_anchor(jobs: Sequence[Job], schedule: Schedule, waits_first: bool) -> list[Detection]:
    rng = random.Random(SEED)
    detections = []
    for job in jobs:
        waits = (max(1, round(wait)) for wait in schedule(rng))
        polled_at = next(waits) if waits_first else 0
        polls = 1
        while polled_at < job.duration:
            polled_at += next(waits)
            polls += 1
        detections.append(Detection(polls, polled_at - job.duration, job.duration))
    return detections


def p95(values: Sequence[float]) -> float:
    """Nearest rank: 95 % of the values are at most this."""
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]


def summarise(name: str, detections: Sequence[Detection]) -> Row:
    polls = [d.polls for d in detections]
    delays = [d.delay for d in detections]
    return Row(name, sum(polls) / len(polls), p95(polls), sum(delays) / len(delays), p95(delays),
               p95([d.delay / d.duration for d in detections]))


def dominates(anchor: Row, jobstep: Row) -> bool:
    """At least as good on both measures and better on one."""
    pairs = ((anchor.mean_polls, jobstep.mean_polls), (anchor.p95_relative_delay, jobstep.p95_relative_delay))
    return all(a <= j for a, j in pairs) and any(a < j for a, j in pairs)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class Report(NamedTuple):
    """A benchmark's table and targets, whether every target is met, and its points for the frontier image:
    (workload, row) pairs."""

    lines: list[str]
    ok: bool
    points: list[tuple[str, Row]]


def report() -> Report:
    """The table and the targets, whether every target is met, and the rows for the frontier."""
    work = workload(JOBS, SEED)
    knobs = {name: os.environ[name] for name in KNOBS if name in os.environ}
    jobstep = summarise("jobstep", run_jobstep(work, knobs))
    rows = [jobstep] + [summarise(name, run_anchor(work, schedule, first)) for name, schedule, first in ANCHORS]
    lines = [
        f"Polling: {JOBS} jobs, durations log-uniform {SHORTEST:.0f} s - {LONGEST / 60:.0f} min (stratified,"
        f" seed {SEED}); first poll at submission, whole-second waits",
        "jobstep's delay knobs: " + (" ".join(f"{name}={value}" for name, value in knobs.items()) or "its defaults"),
        f"{'schedule':<34} {'mean polls':>10} {'p95 polls':>9} {'mean delay s':>12} {'p95 delay s':>11}"
        f" {'p95 delay/duration':>18}",
    ]
    for row in rows:
        lines.append(f"{row.name:<34} {row.mean_polls:>10.1f} {row.p95_polls:>9.0f} {row.mean_delay:>12.1f}"
                     f" {row.p95_delay:>11.1f} {row.p95_relative_delay:>18.3f}")
    better = [row.name for row in rows[1:] if dominates(row, jobstep)]
    checks = [
        (jobstep.mean_polls <= MAX_MEAN_POLLS, f"mean polls {jobstep.mean_polls:.1f} <= {MAX_MEAN_POLLS}"),
        (jobstep.p95_relative_delay <= MAX_P95_RELATIVE_DELAY,
         f"p95 delay/duration {jobstep.p95_relative_delay:.3f} <= {MAX_P95_RELATIVE_DELAY}"),
        (not better, "no anchor better on both" + (f" (better: {', '.join(better)})" if better else "")),
    ]
    lines += [f"  {verdict(ok)}  {text}" for ok, text in checks]
    workload_name = f"{SHORTEST:.0f} s - {LONGEST / 60:.0f} min, no progress"
    return Report(lines, all(ok for ok, _ in checks), [(workload_name, row) for row in rows])
