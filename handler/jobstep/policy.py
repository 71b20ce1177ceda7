"""The verdict and delay policy: pure functions of one reply, the loop state and the current time.

Like urllib3's Retry, a Policy is a small immutable value; `decide` is the only entry point.
Randomness comes in as `draw`, a number in [0, 1), so every verdict is reproducible.
"""

import math
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Optional

from .events import Poll, format_time, parse_time
from .model import Error, Failure, Job, Reply

SUCCESS = "SUCCESS"
SUCCESS_STATUSES = (SUCCESS, "COMPLETE")  # ELB v3 reports a finished job as COMPLETE
FAIL = "FAIL"
TIMEOUT = "TIMEOUT"
ERROR = "ERROR"
# Shown while no job snapshot has been seen yet (404 in the grace period, transient errors).
UNKNOWN = "UNKNOWN"
_MAX_BACKOFF_EXPONENT = 16
# Chosen with `make bench` (1000 jobs of 2 s to 30 min): 18.7 polls per job and a p95 detection delay of
# 0.24 of the job's duration. A floor above 1 s or growth above 0.25 breaks the delay target on short jobs;
# a cap above 180 s saves almost no polls and adds delay on long ones.
DEFAULT_MIN_DELAY = 1
DEFAULT_MAX_DELAY = 180
DEFAULT_GROWTH = 0.25
# Transient trouble backs off to at most a minute: an outage ends unannounced, and a long backoff
# would add its length to the loop's delay.
MAX_ERROR_DELAY = 60


class Verdict(NamedTuple):
    done: bool
    status: str
    retry_after: Optional[int]
    error: Optional[Error]
    errors: int  # consecutive transient failures, this call included
    started_at: datetime  # when the loop began: the start of its deadline and of the not-found grace


def normal_status(status: str) -> str:
    """A job status as jobstep compares and shows it: `" success"` and `SUCCESS` are one status."""
    return status.strip().upper()


def loop_start(poll: Poll, reply: Reply, now: datetime) -> datetime:
    """When the loop began: as the input says; else now, for a call that starts a loop; else (a stateless call,
    which every tick repeats alike) the job's own begin_time, so that its deadline still comes."""
    if poll.started_at is not None:
        return poll.started_at
    begun = parse_time(reply.begin_time) if poll.stateless and isinstance(reply, Job) else None
    return min(now, begun) if begun else now


class Policy(NamedTuple):
    max_wait: int = 3600
    not_found_grace: int = 60
    min_delay: int = DEFAULT_MIN_DELAY
    max_delay: int = DEFAULT_MAX_DELAY
    growth: float = DEFAULT_GROWTH  # delay as a fraction of the job's age
    jitter: float = 0.2  # a delay is drawn from [1 - jitter, 1] times its value

    def decide(self, reply: Reply, poll: Poll, last_job: Optional[Job], now: datetime, draw: float) -> Verdict:
        started_at = loop_start(poll, reply, now)
        job = reply if isinstance(reply, Job) else last_job
        status = normal_status(job.status) if job else UNKNOWN
        until_deadline = (started_at + timedelta(seconds=self.max_wait) - now).total_seconds()

        def verdict(done: bool, shown: str, retry_after: Optional[int], error: Optional[Error], errors: int = 0
                    ) -> Verdict:
            return Verdict(done, shown, retry_after, error, errors, started_at)

        if isinstance(reply, Job):
            if status in SUCCESS_STATUSES:
                return verdict(True, SUCCESS, None, None)
            if status == FAIL:
                return verdict(True, FAIL, None, Error("job_failed", failure_message(reply), False))
            if until_deadline <= 0:
                return verdict(True, TIMEOUT, None, self._timeout(status, started_at, None))
            return verdict(False, status, self.running_delay(started_at, job, now, until_deadline, draw), None)

        error = classify(reply)
        if reply.http_status == 404:
            if poll.stateless:
                return verdict(True, ERROR, None, error._replace(message=error.message + _NO_STATE_FOR_404))
            if (now - started_at).total_seconds() >= self.not_found_grace:
                return verdict(True, ERROR, None, error)
            if until_deadline <= 0:
                return verdict(True, TIMEOUT, None, self._timeout(status, started_at, error))
            delay = self.running_delay(started_at, job, now, until_deadline, draw)
            return verdict(False, status, delay, Error(error.type, error.message, True, 404), poll.errors + 1)
        if not error.retryable:
            return verdict(True, ERROR, None, error)
        if until_deadline <= 0:
            return verdict(True, TIMEOUT, None, self._timeout(status, started_at, error))
        delay = self.error_delay(poll.errors + 1, reply.retry_after, until_deadline, draw)
        return verdict(False, status, delay, error, poll.errors + 1)

    def running_delay(
        self, started_at: datetime, job: Optional[Job], now: datetime, until_deadline: float, draw: float
    ) -> int:
        """Grows with the job's age, counted from the earlier of the loop's and the job's start."""
        begun = parse_time(job.begin_time) if job else None
        start = min(started_at, begun) if begun else started_at
        age = max(0.0, (now - start).total_seconds())
        seconds = min(self.max_delay, max(self.min_delay, self.growth * age))
        return _whole(seconds * (1 - self.jitter * draw), until_deadline)

    def error_delay(self, errors: int, retry_after: Optional[float], until_deadline: float, draw: float) -> int:
        """Exponential backoff with full jitter, apart from the job's age; never sooner than Retry-After."""
        cap = min(self.max_delay, MAX_ERROR_DELAY, self.min_delay * 2 ** min(errors, _MAX_BACKOFF_EXPONENT))
        return _whole(max(cap * draw, retry_after or 0), until_deadline)

    def _timeout(self, status: str, started_at: datetime, error: Optional[Error]) -> Error:
        last = f" The last problem was: {error.message}" if error else ""
        message = (
            f"The job did not end within max_wait ({self.max_wait} s) of {format_time(started_at)}; its last known"
            f" status was {status}. Raise JOBSTEP_MAX_WAIT (or poll.max_wait) if it normally takes longer, or"
            f" look at the job in the console.{last}"
        )
        return Error("max_wait", message, False)


def _whole(seconds: float, until_deadline: float) -> int:
    """Whole seconds, at least 1, cut so that the next call lands at the deadline rather than past it."""
    return max(1, min(round(seconds), math.ceil(until_deadline)))


_SHOWN_SUB_JOBS = 3
_NO_STATE_FOR_404 = (
    " A job_id issued moments ago can also answer 404 for a short while, and this call carries no loop state to"
    " wait through that: give poll.started_at (when the job was submitted), or through API Gateway start the"
    " wait with POST and follow the Location header."
)


def _reason(code: Any, reason: Any) -> str:
    return ": ".join(str(part)[:300] for part in (code, reason) if part)


def failure_message(job: Job) -> str:
    """What failed and why, with the failed sub-jobs' reasons (ECS and ELB v3 hide them there)."""
    reason = _reason(job.error_code, job.fail_reason)
    kind = f" ({job.job_type})" if job.job_type else ""
    message = f"The job{kind} failed" + (f": {reason}" if reason else "") + "."
    sub_jobs = (job.entities or {}).get("sub_jobs")
    if not isinstance(sub_jobs, list):
        sub_jobs = []
    failed = [sub for sub in sub_jobs
              if isinstance(sub, dict) and isinstance(sub.get("status"), str) and normal_status(sub["status"]) == FAIL]
    for sub in failed[:_SHOWN_SUB_JOBS]:
        sub_reason = _reason(sub.get("error_code"), sub.get("fail_reason") or sub.get("error_msg"))
        message += f" Sub-job {sub.get('job_id')} failed" + (f": {sub_reason}" if sub_reason else "") + "."
    if len(failed) > _SHOWN_SUB_JOBS:
        message += f" {len(failed) - _SHOWN_SUB_JOBS} more sub-jobs failed."
    if not reason and not failed:
        message += " The job API gave no reason: look at the job in the service's console."
    return message


def _said(failure: Failure) -> str:
    said = ": ".join(part for part in (failure.code, failure.message) if part)
    return f" ({said})" if said else ""


def classify(failure: Failure) -> Error:
    """The error a failed query becomes: its type, whether a later call may succeed, what to do."""
    status = failure.http_status
    if failure.kind != "http":
        return Error(failure.kind, f"The job API could not be read: {failure.message}. Will retry.", True)
    if status == 404:
        return Error(
            "not_found",
            f"The job was not found{_said(failure)}. Check job_id, project_id and region; a job is deleted"
            " about a day after it ends.",
            False,
            status,
        )
    if status == 429:
        return Error("throttled", f"The job API is throttling requests{_said(failure)}. Will retry.", True, status)
    if status == 408 or (status is not None and status >= 500):
        return Error("unavailable", f"The job API answered HTTP {status}{_said(failure)}. Will retry.", True, status)
    if status == 401:
        if "expired" in (failure.message or "").lower():
            return Error(
                "clock_skew",
                f"The API gateway rejected the signature as expired{_said(failure)}: the clock of the"
                " machine that signed it is more than 15 minutes off. Synchronise its clock (NTP) and retry.",
                False,
                status,
            )
        return Error(
            "unauthorized",
            f"The API gateway rejected the credentials{_said(failure)}. Give the function an agency (its"
            " temporary keys sign the request), or check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK.",
            False,
            status,
        )
    if status == 403:
        return Error(
            "forbidden",
            f"Permission denied{_said(failure)}. Grant the function's agency read access to the service's jobs"
            " in this project and region (for ELB, the ELB ReadOnlyAccess policy).",
            False,
            status,
        )
    if status == 400:
        return Error(
            "bad_request",
            f"The job API rejected the request{_said(failure)}. Check that job_id and project_id belong to this"
            " region.",
            False,
            status,
        )
    return Error("http_error", f"The job API answered HTTP {status}{_said(failure)}.", False, status)
