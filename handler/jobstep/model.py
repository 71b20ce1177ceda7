"""Plain data between the layers, and how each value reads and writes its JSON: the job as reported, a failed
query, an error, the loop's state (Poll) and the result every call answers (Result).

The records are NamedTuples: immutable and typed like frozen dataclasses, at a tenth of the cost of defining
them, which a cold start pays (see bench/invocation.py). Closed sets are str enums, so the JSON is the same.
Reading JSON that a caller sends back validates it as input: a bad value raises InvalidInput.
"""

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, NamedTuple, Optional, Union

_MAX_TEXT = 500
MAX_WAIT_LIMIT = 31 * 24 * 3600
# started_at comes from the orchestrator's clock; allow it a little drift, not a loop with no end.
FUTURE_TOLERANCE = timedelta(minutes=5)
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z0-9]{1,20}){1,3}")
# ISO 8601 as the job APIs write it: "...Z", "+08:00", "+0800" (RDS), no zone (UTC), or Go's time.String() with a
# space before the offset and " UTC" after it (CCE: "2018-08-02 08:12:40.672772389 +0000 UTC").
_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ?(Z|[+-]\d{2}:?\d{2})?(?: UTC)?", re.ASCII
)


class Status(str, Enum):
    """The statuses jobstep itself gives; a running job's own status (RUNNING, INIT, ...) passes through."""

    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    TIMEOUT = "TIMEOUT"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"  # no snapshot of the job seen yet (a 404 in the grace period, a first query that failed)


class FailureKind(str, Enum):
    """Why a query gave no job."""

    HTTP = "http"  # an HTTP error status
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"  # a 200 that is not the job


class ErrorType(str, Enum):
    """What went wrong, as a result's error.type says it; errors.py holds what each means."""

    INVALID_INPUT = "invalid_input"
    CONFIGURATION = "configuration"
    CREDENTIALS = "credentials"
    INTERNAL = "internal"
    JOB_FAILED = "job_failed"
    MAX_WAIT = "max_wait"
    NOT_FOUND = "not_found"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    CLOCK_SKEW = "clock_skew"
    FORBIDDEN = "forbidden"
    HTTP_ERROR = "http_error"


class InvalidInput(ValueError):
    """The input cannot be used; the message says what to fix."""

    def __init__(self, message: str, job_id: Optional[str] = None):
        super().__init__(message)
        self.job_id = job_id


def parse_time(text: Any) -> Optional[datetime]:
    """A job API's timestamp as an aware UTC datetime; None when it is not one. ISO 8601 (no zone means UTC), or
    epoch milliseconds written as 13 digits (DCS: "1684191545379")."""
    if isinstance(text, str) and len(text) == 13 and text.isascii() and text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, timezone.utc)
    match = _ISO_8601.fullmatch(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         int((fraction or "0").ljust(6, "0")[:6]), tzinfo=timezone.utc)
        return local - offset
    except (ValueError, OverflowError):
        return None


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def valid_id(value: Any) -> bool:
    """1-64 ASCII letters, digits or '-': a job or project ID, nothing that could bend a URL."""
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.replace("-", "a").isalnum()


def valid_service_name(value: Any) -> bool:
    """A job API's name in the registry: 1-32 lower-case letters, digits, '-' or '_'."""
    return (isinstance(value, str) and 0 < len(value) <= 32 and value.isascii()
            and value.replace("-", "a").replace("_", "a").isalnum() and value.lower() == value)


def valid_region(value: Any) -> bool:
    return isinstance(value, str) and REGION_PATTERN.fullmatch(value) is not None


def plain(value: str) -> str:
    """A str enum member as the plain string the JSON holds; any other string as it is."""
    return value.value if isinstance(value, Enum) else value


def text(value: Any) -> Optional[str]:
    """A text field as reported: a string (cut to a sane length), or a number written out (CPH's numeric
    statuses, epoch times); else None."""
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


class Job(NamedTuple):
    """The job as its API reported it, in normalised field names (classic ELB's), the status verbatim.

    `sub_jobs` are normalised alike ({status, job_id, job_type, error_code, fail_reason, outcome}) and
    `sub_jobs_total` counts them where the API does; `progress` is the API's own progress field as a fraction
    0-1; `outcome` is what the status means by the API's registry entry: SUCCESS, FAIL, or None while it runs."""

    status: str
    job_id: Optional[str] = None
    job_type: Optional[str] = None
    begin_time: Optional[str] = None
    end_time: Optional[str] = None
    error_code: Optional[str] = None
    fail_reason: Optional[str] = None
    entities: Optional[dict[str, Any]] = None
    sub_jobs: Optional[list[dict[str, Any]]] = None
    sub_jobs_total: Optional[int] = None
    progress: Optional[float] = None
    expected_end_time: Optional[str] = None
    outcome: Optional[str] = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Optional["Job"]:
        """A job from its normalised fields (a job API's, read by its registry entry, or a result's fed back);
        None when it has no status string."""
        status = fields.get("status")
        if not isinstance(status, str) or not status.strip():
            return None
        entities, sub_jobs, total = fields.get("entities"), fields.get("sub_jobs"), fields.get("sub_jobs_total")
        progress, outcome = fields.get("progress"), fields.get("outcome")
        return cls(
            status=status[:64],
            job_id=text(fields.get("job_id")),
            job_type=text(fields.get("job_type")),
            begin_time=text(fields.get("begin_time")),
            end_time=text(fields.get("end_time")),
            error_code=text(fields.get("error_code")),
            fail_reason=text(fields.get("fail_reason")),
            entities=entities if isinstance(entities, dict) else None,
            sub_jobs=[sub for sub in sub_jobs if isinstance(sub, dict)] if isinstance(sub_jobs, list) else None,
            sub_jobs_total=total if type(total) is int and 0 <= total <= 10**6 else None,
            progress=float(progress) if type(progress) in (int, float) and 0 <= progress <= 1 else None,
            expected_end_time=text(fields.get("expected_end_time")),
            outcome=outcome if outcome in (Status.SUCCESS.value, Status.FAIL.value) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Failure(NamedTuple):
    """A query that gave no job: an HTTP error status, no answer in time, or an unusable answer."""

    kind: FailureKind
    message: str
    http_status: Optional[int] = None
    code: Optional[str] = None
    retry_after: Optional[float] = None


Reply = Union[Job, Failure]


class Error(NamedTuple):
    type: ErrorType
    message: str
    retryable: bool
    http_status: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": plain(self.type), "message": self.message, "retryable": self.retryable}
        if self.http_status is not None:
            shown["http_status"] = self.http_status
        return shown

    @classmethod
    def from_dict(cls, raw: Any, job_id: str) -> "Error":
        """An error as a result fed back carries it, which must be as jobstep wrote it."""
        if not isinstance(raw, dict):
            raise InvalidInput("error must be the object a previous call returned", job_id)
        try:
            kind = ErrorType(raw.get("type"))
        except ValueError:
            raise InvalidInput(f"error.type is not one jobstep gives: {raw.get('type')!r:.40}", job_id) from None
        message, retryable, status = raw.get("message"), raw.get("retryable"), raw.get("http_status")
        if not isinstance(message, str) or not isinstance(retryable, bool) or not (
            status is None or (type(status) is int and 100 <= status <= 599)
        ):
            raise InvalidInput("error must keep its message, retryable and http_status as a previous call gave them",
                               job_id)
        return cls(kind, message[:2000], retryable, status)


def _count(value: Any, name: str, job_id: str) -> int:
    # bool is an int in Python; an orchestrator never means True as a count.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        raise InvalidInput(f"poll.{name} must be a whole number from 0, got {value!r:.40}", job_id)
    return value


TRACK_DIGITS = 4  # a progress fraction carried from call to call is rounded to this many decimals


class Track(NamedTuple):
    """The last progress reading a loop saw (`poll.progress`): its fraction, and when, in seconds since the loop
    began. The next reading is compared with it: moved forward, stalled or gone back."""

    fraction: float
    at: float

    @classmethod
    def from_dict(cls, raw: Any, job_id: str) -> Optional["Track"]:
        if raw is None:
            return None
        fraction, at = (raw.get("fraction"), raw.get("at")) if isinstance(raw, dict) else (None, None)
        if type(fraction) not in (int, float) or type(at) not in (int, float) or not (
                0 <= fraction <= 1 and 0 <= at <= MAX_WAIT_LIMIT):
            raise InvalidInput("poll.progress must be the object a previous call returned: a fraction 0-1 and the"
                               " seconds since poll.started_at it was seen at", job_id)
        return cls(float(fraction), float(at))


class Poll(NamedTuple):
    """The loop's state: what one call leaves for the next (`poll` in the JSON)."""

    attempt: int = 0  # calls so far
    started_at: Optional[datetime] = None  # None: this call starts the loop
    max_wait: Optional[int] = None  # None: the configured one
    errors: int = 0  # consecutive transient failures
    progress: Optional[Track] = None  # the last progress reading, to tell a moving job from a stalled one
    # Not in the JSON: no state came and none will (a timer tick, an SMN or Kafka message, an API Gateway GET).
    # Such a call cannot wait through a 404, and its deadline counts from the job's own begin_time.
    stateless: bool = False

    def to_dict(self) -> dict[str, Any]:
        started_at = format_time(self.started_at) if self.started_at else None
        progress = {"fraction": round(self.progress.fraction, TRACK_DIGITS), "at": round(self.progress.at, 1)} \
            if self.progress else None
        return {"attempt": self.attempt, "started_at": started_at, "max_wait": self.max_wait, "errors": self.errors,
                "progress": progress}

    @classmethod
    def from_dict(cls, raw: Any, job_id: str, now: datetime) -> "Poll":
        """The state a caller sends back, validated; absent fields take their defaults."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise InvalidInput("poll must be the object a previous call returned", job_id)
        started_at = None
        if raw.get("started_at") is not None:
            started_at = parse_time(raw["started_at"])
            if started_at is None:
                raise InvalidInput("poll.started_at must be an ISO-8601 time such as 2026-01-31T08:00:00Z", job_id)
            if started_at > now + FUTURE_TOLERANCE:
                raise InvalidInput("poll.started_at is in the future: set it to when the job was submitted", job_id)
        max_wait = raw.get("max_wait")
        if max_wait is not None and (
            isinstance(max_wait, bool) or not isinstance(max_wait, int) or not 1 <= max_wait <= MAX_WAIT_LIMIT
        ):
            raise InvalidInput(f"poll.max_wait must be whole seconds from 1 to {MAX_WAIT_LIMIT}", job_id)
        return cls(
            attempt=_count(raw.get("attempt", 0), "attempt", job_id),
            started_at=started_at,
            max_wait=max_wait,
            errors=_count(raw.get("errors", 0), "errors", job_id),
            progress=Track.from_dict(raw.get("progress"), job_id),
        )


class Progress(NamedTuple):
    """How far a job says it is (`progress` in the result): the fraction done, from which source ("percent",
    "sub_jobs" or "expected_end"), the sub-jobs done, failed and in all, and the estimated seconds left."""

    fraction: float
    source: str
    sub_jobs: Optional[tuple[int, int, int]] = None
    eta_seconds: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        sub_jobs = dict(zip(("done", "failed", "total"), self.sub_jobs)) if self.sub_jobs else None
        return {"fraction": round(self.fraction, 4), "source": self.source, "sub_jobs": sub_jobs,
                "eta_seconds": self.eta_seconds}

    @classmethod
    def from_dict(cls, raw: Any) -> Optional["Progress"]:
        """A result's progress fed back, as it was shown; None when it is not one."""
        if not isinstance(raw, dict) or type(raw.get("fraction")) not in (int, float) or not isinstance(
                raw.get("source"), str):
            return None
        sub_jobs, eta = raw.get("sub_jobs"), raw.get("eta_seconds")
        counts = tuple(sub_jobs.get(key) for key in ("done", "failed", "total")) if isinstance(sub_jobs, dict) else None
        return cls(float(raw["fraction"]), raw["source"][:20],
                   counts if counts and all(type(count) is int for count in counts) else None,
                   eta if type(eta) is int else None)


def _optional_text(raw: Mapping[str, Any], name: str, job_id: str) -> Optional[str]:
    value = raw.get(name)
    if value is not None and not (isinstance(value, str) and len(value) <= 64):
        raise InvalidInput(f"{name} must stay as a previous call returned it", job_id)
    return value


class Result(NamedTuple):
    """What every call answers, and the next call's input: the job, the verdict, and the loop's state."""

    job_id: Optional[str]
    project_id: Optional[str]
    region: Optional[str]
    service: Optional[str]
    done: bool
    status: str  # a Status, or the running job's own status, trimmed and upper-cased
    retry_after: Optional[int]  # whole seconds until the next call; None when done
    job: Optional[Job]  # the last snapshot the job API gave
    error: Optional[Error]
    poll: Poll
    progress: Optional[Progress] = None  # how far the job says it is; None when it says nothing

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "region": self.region,
            "service": self.service,
            "done": self.done,
            "status": plain(self.status),
            "retry_after": self.retry_after,
            "job": self.job.to_dict() if self.job else None,
            "error": self.error.to_dict() if self.error else None,
            "poll": self.poll.to_dict(),
            "progress": self.progress.to_dict() if self.progress else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], job_id: str, now: datetime) -> "Result":
        """A finished result fed back (done: true), validated as input; it is answered as it is."""
        status = raw.get("status")
        if not isinstance(status, str) or not 0 < len(status) <= 64:
            raise InvalidInput("a finished result fed back must keep its status", job_id)
        job, error = raw.get("job"), raw.get("error")
        return cls(
            job_id=job_id,
            project_id=_optional_text(raw, "project_id", job_id),
            region=_optional_text(raw, "region", job_id),
            service=_optional_text(raw, "service", job_id),
            done=True,
            status=status,
            retry_after=None,
            job=Job.from_fields(job) if isinstance(job, dict) else None,
            error=None if error is None else Error.from_dict(error, job_id),
            poll=Poll.from_dict(raw.get("poll"), job_id, now),
            progress=Progress.from_dict(raw.get("progress")),
        )
