"""The verdict and delay policy: pure functions of one reply, the loop's state and the current time.

Like urllib3's Retry, a Policy is a small immutable value; `decide` returns the verdict and the next state
of the loop, the only place where the loop's counters move. Randomness comes in as `draw`, a number in
[0, 1), so every verdict is reproducible.
"""

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Callable, NamedTuple, Optional

from . import errors, progress
from .model import Error, Job, Poll, Progress, Reply, Result, Status, Track, Until, normal_status, parse_time

DEFAULT_MAX_WAIT = 3600
_MAX_BACKOFF_EXPONENT = 16
# Transient trouble backs off to at most a minute: an outage ends unannounced, and a long backoff would add
# its length to the loop's delay.
MAX_ERROR_DELAY = 60


class Verdict(NamedTuple):
    done: bool
    status: str  # a Status, or the running job's own status, trimmed and upper-cased
    retry_after: Optional[int]
    error: Optional[Error]
    progress: Optional[Progress] = None


def loop_start(poll: Poll, reply: Optional[Reply], now: datetime) -> datetime:
    """When the loop began: as the input says, but never after now (an orchestrator's clock may run ahead, and an
    age is never negative); else now, for a call that starts a loop; else (a stateless call, which every tick
    repeats alike) the job's own begin_time, so that its deadline still comes."""
    if poll.started_at is not None:
        return min(poll.started_at, now)
    begun = parse_time(reply.begin_time) if poll.stateless and isinstance(reply, Job) else None
    return min(now, begun) if begun else now


def job_start(started_at: datetime, job: Optional[Job]) -> datetime:
    """When the job began: its own begin_time when earlier than the loop's start (a late loop is not fooled)."""
    begun = parse_time(job.begin_time) if job else None
    return min(started_at, begun) if begun else started_at


def ended_without_query(error: Error, poll: Poll, now: datetime) -> tuple[Verdict, Poll]:
    """A call that ends the loop without a query (invalid input, configuration, credentials, a bug)."""
    next_poll = Poll(poll.attempt + 1, loop_start(poll, None, now), poll.max_wait or DEFAULT_MAX_WAIT, 0, poll.progress)
    return Verdict(True, Status.ERROR, None, error), next_poll


class Policy(NamedTuple):
    # Chosen with `make bench` (1000 jobs of 2 s to 30 min): 18.7 polls per job and a p95 detection delay of
    # 0.24 of the job's duration. A floor above 1 s or growth above 0.25 breaks the delay target on short jobs;
    # a cap above 180 s saves almost no polls and adds delay on long ones.
    not_found_grace: int = 60  # seconds from the loop's start in which a 404 means "not visible yet"
    min_delay: int = 1
    max_delay: int = 180
    growth: float = 0.25  # delay as a fraction of the job's age
    # A job whose progress says its end is far is asked near that end: up to an hour later unless the user capped
    # every delay (JOBSTEP_MAX_DELAY); progress.MAX_LEAP bounds it by the job's age as well.
    max_aimed_delay: int = 3600
    jitter: float = 0.2  # a delay is drawn from [1 - jitter, 1] times its value

    def decide(self, reply: Reply, poll: Poll, last_job: Optional[Job], now: datetime,
               draw: float) -> tuple[Verdict, Poll]:
        """The verdict on `reply`, and the loop's next state. `poll.max_wait` must be resolved."""
        started_at = loop_start(poll, reply, now)
        max_wait = poll.max_wait or DEFAULT_MAX_WAIT
        job = reply if isinstance(reply, Job) else last_job
        status = normal_status(job.status) if job else Status.UNKNOWN.value
        until_deadline = (started_at + timedelta(seconds=max_wait) - now).total_seconds()
        begun = job_start(started_at, job)
        age, at = (now - begun).total_seconds(), (now - started_at).total_seconds()
        reading = progress.reading_of(reply, begun, now) if isinstance(reply, Job) else None
        shown = progress.report(reading, age, at, poll.progress, isinstance(reply, Job) and reply.outcome is not None)
        track = Track(reading.fraction, at) if reading else poll.progress

        def verdict(done: bool, status: str, retry_after: Optional[int], error: Optional[Error],
                    errors: int = 0) -> tuple[Verdict, Poll]:
            return (Verdict(done, status, retry_after, error, shown),
                    Poll(poll.attempt + 1, started_at, max_wait, errors, track))

        def timeout(problem: Optional[Error]) -> tuple[Verdict, Poll]:
            return verdict(True, Status.TIMEOUT, None, errors.timed_out(max_wait, status, started_at, problem))

        if isinstance(reply, Job):  # what its status means is the job API's registry entry's word (services.py)
            if reply.outcome is Status.SUCCESS:
                return verdict(True, Status.SUCCESS, None, None)
            if reply.outcome is Status.FAIL:
                return verdict(True, Status.FAIL, None, errors.job_failed(reply))
            if until_deadline <= 0:
                return timeout(None)
            seconds = self.progress_delay(reading, max(age, 0.0), at, poll.progress, draw)
            return verdict(False, status, _whole(seconds, until_deadline), None)

        error = errors.classify(reply)
        if reply.http_status == 404:
            if poll.stateless:
                return verdict(True, Status.ERROR, None, errors.not_found_without_state(error))
            if (now - started_at).total_seconds() >= self.not_found_grace:
                return verdict(True, Status.ERROR, None, error)
            if until_deadline <= 0:
                return timeout(error)
            delay = _whole(self.blind_delay(age) * (1 - self.jitter * draw), until_deadline)
            return verdict(False, status, delay, error._replace(retryable=True), poll.errors + 1)
        if not error.retryable:
            return verdict(True, Status.ERROR, None, error)
        if until_deadline <= 0:
            return timeout(error)
        delay = self.error_delay(poll.errors + 1, reply.retry_after, until_deadline, draw)
        return verdict(False, status, delay, error, poll.errors + 1)

    def blind_delay(self, age: float) -> float:
        """Seconds before asking again a job that says nothing of its progress: a fraction of its age, between the
        floor and the cap, so that a long job is asked rarely and a short one soon."""
        return min(self.max_delay, max(self.min_delay, self.growth * max(age, 0.0)))

    def progress_delay(
        self, reading: Optional[progress.Reading], age: float, at: float, last: Optional[Track], draw: float
    ) -> float:
        """Seconds before asking again a running job, jittered by `draw`: a hedge past the soonest end its progress
        makes plausible while it keeps its pace (progress.py); the sooner of that and blind polling when it stalled,
        slowed or went back, or may be done already; blind polling while it says nothing. The jitter of an aimed
        delay draws down its hedge only, so that it never comes before the soonest end."""
        blind = self.blind_delay(age) * (1 - self.jitter * draw)
        aimed = progress.aimed_delay(reading, age, at, last, self.jitter * draw) if reading is not None else None
        if reading is None or aimed is None:
            return blind
        aimed = max(self.min_delay, min(self.max_aimed_delay, aimed))
        return aimed if progress.follows(reading, age, at, last) else min(aimed, blind)

    def running_delay(
        self, started_at: datetime, job: Optional[Job], now: datetime, until_deadline: float, draw: float
    ) -> int:
        """The blind delay in whole seconds, jittered and cut at the deadline (the flow's sleeps are these)."""
        age = (now - job_start(started_at, job)).total_seconds()
        return _whole(self.blind_delay(age) * (1 - self.jitter * draw), until_deadline)

    def error_delay(self, consecutive: int, retry_after: Optional[float], until_deadline: float, draw: float) -> int:
        """Exponential backoff with full jitter over `consecutive` errors, apart from the job's age; never below the
        floor, never sooner than Retry-After."""
        cap = min(self.max_delay, MAX_ERROR_DELAY, self.min_delay * 2 ** min(consecutive, _MAX_BACKOFF_EXPONENT))
        return _whole(max(self.min_delay, cap * draw, retry_after or 0), until_deadline)


def _whole(seconds: float, until_deadline: float) -> int:
    """Whole seconds, at least 1, cut so that the next call lands at the deadline rather than past it."""
    return max(1, min(round(seconds), math.ceil(until_deadline)))


# When a group of n jobs ends, as botocore's waiters' pathAll and pathAny acceptors: how many must have succeeded
# for SUCCESS, and how many must have ended otherwise for the first of those to end the group.
GROUP_ENDS: dict[Until, tuple[Callable[[int], int], Callable[[int], int]]] = {
    Until.ALL: (lambda n: n, lambda n: 1),
    Until.ANY: (lambda n: 1, lambda n: n),
}


def _done_share(result: Result) -> Optional[float]:
    if result.done and result.status == Status.SUCCESS:
        return 1.0
    return result.progress.fraction if result.progress else None


def combine(until: Until, results: Sequence[Result]) -> Verdict:
    """A group's verdict on its jobs' results (in the group's order): done when enough succeeded or enough did not
    (GROUP_ENDS), else RUNNING, asked again when its soonest job wants it. Its progress is the mean of the
    fractions its jobs report, a job that succeeded counting whole."""
    succeeded = [result for result in results if result.done and result.status == Status.SUCCESS]
    unsuccessful = [result for result in results if result.done and result.status != Status.SUCCESS]
    fractions = [fraction for fraction in map(_done_share, results) if fraction is not None]
    shown = Progress(sum(fractions) / len(fractions), "jobs") if fractions else None
    needs_success, needs_failure = GROUP_ENDS[until]
    if len(succeeded) >= needs_success(len(results)):
        return Verdict(True, Status.SUCCESS, None, None, shown)
    if len(unsuccessful) >= needs_failure(len(results)):
        first = unsuccessful[0]
        error = errors.group_ended(first.ref.job_id, len(results), first.status, first.error, until is Until.ALL)
        return Verdict(True, first.status, None, error, shown)
    # Neither end: some job still runs, and every running job's result has its retry_after.
    soonest = min(result.retry_after for result in results if result.retry_after is not None)
    return Verdict(False, Status.RUNNING, soonest, None, shown)
