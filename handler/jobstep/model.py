"""Plain data between the layers, and how each value reads and writes its wire formats: the job as reported and
its sub-jobs, a failed query, an error, the loop's state (Poll, also as a URL's query string) and the result every
call answers (Result). And the one tree of exceptions for an input jobstep refuses (Refusal).

The records are NamedTuples: immutable and typed like frozen dataclasses, at a tenth of the cost of defining
them, which a cold start pays (see bench/invocation.py). Closed sets are str enums, so the JSON is the same.
Each record writes only what it reads back: whatever arithmetic made a value, its JSON is valid input to the next
call. Reading JSON that a caller sends back validates it as input: a bad value raises InvalidInput.
"""

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable, NamedTuple, Optional, TypeVar, Union

# Characters of a job's text that an answer carries: a name (an id, a type, a code, a time) and a reason.
MAX_NAME = 128
MAX_REASON = 500
MAX_WAIT_LIMIT = 31 * 24 * 3600
# A loop's counters saturate here: what a call writes, the next call reads (a count past it says nothing more).
MAX_COUNT = 10**9
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
    RUNNING = "RUNNING"  # a group of jobs that is not done yet


class FailureKind(str, Enum):
    """Why a query gave no job."""

    HTTP = "http"  # an HTTP error status
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_RESPONSE = "bad_response"  # a 2xx that is not the job


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


class Refusal(ValueError):
    """An input jobstep cannot use, refused before anything is sent; the message says what to fix."""


class InvalidInput(Refusal):
    """The event, or a field of it, cannot be used."""

    def __init__(self, message: str, job_id: Optional[str] = None):
        super().__init__(message)
        self.job_id = job_id


class ConfigError(Refusal):
    """A variable is set to something unusable; the message names it and says what it must be."""


class ServiceError(Refusal):
    """A registry entry does not fit the schema; the message names the entry and the key."""


def parse_time(text: Any) -> Optional[datetime]:
    """A job API's timestamp as an aware UTC datetime; None when it is not one. ISO 8601 (no zone means UTC), or
    epoch milliseconds written as 13 digits (DCS: "1684191545379")."""
    if isinstance(text, str) and len(text) == 13 and text.isascii() and text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, timezone.utc)
    match = _ISO_8601.fullmatch(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction_digits, zone = match.groups()
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         int((fraction_digits or "0").ljust(6, "0")[:6]), tzinfo=timezone.utc)
        return local - offset
    except (ValueError, OverflowError):
        return None


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC, as parse_time reads it: four-digit years even before 1000 (strftime's %Y writes year 1 as
    "1" on glibc, which no reader takes)."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def valid_id(value: Any) -> bool:
    """1-64 ASCII letters, digits or '-': a job or project ID, nothing that could bend a URL."""
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isascii() and value.replace("-", "a").isalnum()


def valid_service_name(value: Any) -> bool:
    """A job API's name in the registry: 1-32 lower-case letters, digits, '-' or '_'."""
    return (isinstance(value, str) and 0 < len(value) <= 32 and value.isascii()
            and value.replace("-", "a").replace("_", "a").isalnum() and value.lower() == value)


def valid_region(value: Any) -> bool:
    return isinstance(value, str) and REGION_PATTERN.fullmatch(value) is not None


def normal_status(status: str) -> str:
    """A job status as jobstep compares and shows it: `" success"` and `SUCCESS` are one status."""
    return status.strip().upper()


def str_value(value: str) -> str:
    """The string a str enum member stands for (what the JSON holds); any other string as it is."""
    return value.value if isinstance(value, Enum) else value


def reported_text(value: Any, limit: int = MAX_NAME) -> Optional[str]:
    """A text field as a job API reported it, cut to `limit` characters: a string, or a number written out (CPH's
    numeric statuses, epoch times); else None."""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)[:limit]
    return None


def strict_json(value: Any, limit: int) -> Any:
    """`value` as strict JSON carries it (NaN and infinities, which JSON has no words for, become null); None when
    it is not JSON or its JSON is longer than `limit` characters."""
    try:
        written = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if len(written) > limit:
        return None
    if "NaN" not in written and "Infinity" not in written:  # as it is: nothing to replace
        return value
    return json.loads(written, parse_constant=lambda constant: None)


# A progress fraction is read and carried to this many decimals: one that rounds to 0 says nothing (1e-300 taken at
# its word would aim the next poll at a 305-digit end).
TRACK_DIGITS = 4


def _number(value: Any) -> Optional[float]:
    """A JSON number as a float (not a bool, which Python counts as an int); None for anything else."""
    return float(value) if type(value) in (int, float) else None


def fraction(value: Any) -> Optional[float]:
    """A fraction 0-1 at the track's resolution (TRACK_DIGITS), from a finite number in that range; else None."""
    if type(value) is int and not 0 <= value <= 1:  # an int too large for a float is not in the range either
        return None
    number = _number(value)
    if number is None or not 0 <= number <= 1:  # NaN is in no range
        return None
    return round(number, TRACK_DIGITS)


def _share(value: float) -> float:
    """A fraction as an answer writes it: 0-1 at the track's resolution, whatever arithmetic made it."""
    return round(min(max(value, 0.0), 1.0), TRACK_DIGITS) if math.isfinite(value) else 0.0


def ended(value: Any) -> Optional[Status]:
    """SUCCESS or FAIL, the outcome of an ended job or sub-job, from its JSON; None for anything else."""
    return Status(value) if value in (Status.SUCCESS.value, Status.FAIL.value) else None


# How much of a job's snapshot an answer carries, so that every answer fits back into the next call through any
# channel (MAX_ANSWER_CHARS): a batch of thousands of sub-jobs is counted whole and shown in part, failed ones first.
SHOWN_SUB_JOBS = 10
MAX_ENTITIES_CHARS = 8 * 1024  # of JSON; larger entities are not carried (null)
MAX_SUB_JOB_ENTITIES_CHARS = 1024
MAX_SUB_JOBS = 10**6  # more sub-jobs than any job API lists: a count above it is not one


def sub_job_count(value: Any) -> Optional[int]:
    """A count of sub-jobs as a job API or a result fed back gives it; None when it is not one."""
    return value if type(value) is int and 0 <= value <= MAX_SUB_JOBS else None


def _told(fields: Mapping[str, Any]) -> tuple[Optional[str], Optional[str], Optional[str], Optional[str]]:
    """What a job and a sub-job alike say of themselves: id, type, error code and reason."""
    return (reported_text(fields.get("job_id")), reported_text(fields.get("job_type")),
            reported_text(fields.get("error_code")), reported_text(fields.get("fail_reason"), MAX_REASON))


class SubJob(NamedTuple):
    """A sub-job as its job API reported it, in normalised field names (services.SUB_JOB_FIELDS), and what its
    status means by the API's registry entry (`outcome`): SUCCESS, FAIL, or None while it runs."""

    status: Optional[str] = None
    job_id: Optional[str] = None
    job_type: Optional[str] = None
    error_code: Optional[str] = None
    fail_reason: Optional[str] = None
    entities: Any = None  # its resource: ECS's server_id
    outcome: Optional[Status] = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> "SubJob":
        job_id, job_type, error_code, fail_reason = _told(fields)
        return cls(reported_text(fields.get("status")), job_id, job_type, error_code, fail_reason,
                   strict_json(fields.get("entities"), MAX_SUB_JOB_ENTITIES_CHARS), ended(fields.get("outcome")))

    def to_dict(self) -> dict[str, Any]:
        written = self._asdict()
        written["outcome"] = str_value(self.outcome) if self.outcome else None
        return written


Item = TypeVar("Item")


class SubJobs(NamedTuple):
    """A job's sub-jobs, summarised: those an answer shows (failed ones first, SHOWN_SUB_JOBS at most), and how many
    there are, ended and failed."""

    shown: list[Any]
    total: int
    done: int
    failed: int

    @classmethod
    def summarise(cls, sub_jobs: Iterable[Item], outcome_of: Callable[[Item], Optional[Status]]) -> "SubJobs":
        """One pass over the listed sub-jobs, keeping only what is shown: the failed ones first, then the others,
        each in their order."""
        failures: list[Item] = []
        others: list[Item] = []
        listed = done = failed = 0
        for sub in sub_jobs:
            listed += 1
            outcome = outcome_of(sub)
            if outcome is not None:
                done += 1
            if outcome is Status.FAIL:
                failed += 1
                if len(failures) < SHOWN_SUB_JOBS:
                    failures.append(sub)
            elif len(others) < SHOWN_SUB_JOBS:
                others.append(sub)
        return cls((failures + others)[:SHOWN_SUB_JOBS], listed, done, failed)


class Job(NamedTuple):
    """The job as its API reported it, in normalised field names (classic ELB's), the status verbatim.

    `sub_jobs` are up to SHOWN_SUB_JOBS of them (SubJobs.summarise), with `sub_jobs_total` (all of them: the API's
    count, or as many as it lists), `sub_jobs_done` (ended) and `sub_jobs_failed`; `entities` are strict JSON of a
    bounded size, without a sub-job list that `sub_jobs` shows; `progress` is the API's own progress field as a
    fraction 0-1; `outcome` is what the status means by the API's registry entry: SUCCESS, FAIL, or None while it
    runs."""

    status: str
    job_id: Optional[str] = None
    job_type: Optional[str] = None
    begin_time: Optional[str] = None
    end_time: Optional[str] = None
    expected_end_time: Optional[str] = None
    error_code: Optional[str] = None
    fail_reason: Optional[str] = None
    entities: Any = None  # JSON
    sub_jobs: Optional[tuple[SubJob, ...]] = None  # None: the API lists none; a tuple, maybe empty: those shown
    sub_jobs_total: Optional[int] = None
    sub_jobs_done: Optional[int] = None
    sub_jobs_failed: Optional[int] = None
    progress: Optional[float] = None
    outcome: Optional[Status] = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Optional["Job"]:
        """A job from its normalised fields (a job API's, read and counted by its registry entry, or a result's
        fed back); None when it has no status string. Counts not given are counted from the list."""
        status = fields.get("status")
        if not isinstance(status, str) or not status.strip():
            return None
        listed = fields.get("sub_jobs")
        sub_jobs = total = done = failed = None
        if isinstance(listed, list):
            summary = SubJobs.summarise((SubJob.from_fields(sub) if isinstance(sub, dict) else sub
                                         for sub in listed if isinstance(sub, (dict, SubJob))), lambda sub: sub.outcome)
            sub_jobs, done, failed = tuple(summary.shown), summary.done, summary.failed
            total = max(sub_job_count(fields.get("sub_jobs_total")) or 0, summary.total)
            given = sub_job_count(fields.get("sub_jobs_done")), sub_job_count(fields.get("sub_jobs_failed"))
            if given[0] is not None and given[1] is not None and failed <= given[1] <= given[0] <= total:
                done, failed = given
        else:
            total = sub_job_count(fields.get("sub_jobs_total"))
        job_id, job_type, error_code, fail_reason = _told(fields)
        return cls(
            status=status[:64],
            job_id=job_id,
            job_type=job_type,
            begin_time=reported_text(fields.get("begin_time")),
            end_time=reported_text(fields.get("end_time")),
            expected_end_time=reported_text(fields.get("expected_end_time")),
            error_code=error_code,
            fail_reason=fail_reason,
            entities=strict_json(fields.get("entities"), MAX_ENTITIES_CHARS),
            sub_jobs=sub_jobs,
            sub_jobs_total=total,
            sub_jobs_done=done,
            sub_jobs_failed=failed,
            progress=fraction(fields.get("progress")),
            outcome=ended(fields.get("outcome")),
        )

    def to_dict(self) -> dict[str, Any]:
        written = self._asdict()
        written["sub_jobs"] = None if self.sub_jobs is None else [sub.to_dict() for sub in self.sub_jobs]
        written["outcome"] = str_value(self.outcome) if self.outcome else None
        return written

    def in_brief(self) -> "Job":
        """The snapshot without its entities, sub-job list and long texts (the counts stay): for an answer that
        would otherwise pass MAX_ANSWER_CHARS."""
        def cut(value: Optional[str]) -> Optional[str]:
            return None if value is None else value[:_BRIEF_TEXT]

        return self._replace(status=self.status[:_BRIEF_TEXT], job_id=cut(self.job_id), job_type=cut(self.job_type),
                             begin_time=cut(self.begin_time), end_time=cut(self.end_time),
                             expected_end_time=cut(self.expected_end_time), error_code=cut(self.error_code),
                             fail_reason=cut(self.fail_reason), entities=None,
                             sub_jobs=None if self.sub_jobs is None else ())


_BRIEF_TEXT = 100


class Failure(NamedTuple):
    """A query that gave no job: an HTTP error status, no answer in time, or an unusable answer."""

    kind: FailureKind
    message: str
    http_status: Optional[int] = None
    code: Optional[str] = None
    retry_after: Optional[float] = None


Reply = Union[Job, Failure]

MAX_MESSAGE = 2000  # characters of an error's message that an answer carries


class Error(NamedTuple):
    type: ErrorType
    message: str
    retryable: bool
    http_status: Optional[int] = None  # the job API's, as http.client reads one: 100-999

    def to_dict(self) -> dict[str, Any]:
        written: dict[str, Any] = {"type": str_value(self.type), "message": self.message[:MAX_MESSAGE],
                                   "retryable": self.retryable}
        if self.http_status is not None:
            written["http_status"] = self.http_status
        return written

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
            status is None or (type(status) is int and 100 <= status <= 999)
        ):
            raise InvalidInput("error must keep its message, retryable and http_status as a previous call gave them",
                               job_id)
        return cls(kind, message[:MAX_MESSAGE], retryable, status)


def _count(value: Any, name: str, job_id: str) -> int:
    # bool is an int in Python; an orchestrator never means True as a count.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidInput(f"poll.{name} must be a whole number from 0, got {value!r:.40}", job_id)
    return value


class Track(NamedTuple):
    """The last progress reading a loop saw (`poll.progress`): its fraction, and when, in seconds since the loop
    began. The next reading is compared with it: moved forward, stalled or gone back."""

    fraction: float
    at: float

    def to_dict(self) -> dict[str, float]:
        """What from_dict reads, whatever the value: a fraction 0-1, and seconds from 0 (a loop whose start is
        in the future by the orchestrator's clock) to MAX_WAIT_LIMIT (a finished loop of a job begun long ago)."""
        return {"fraction": _share(self.fraction), "at": round(min(max(self.at, 0.0), MAX_WAIT_LIMIT), 1)}

    @classmethod
    def from_dict(cls, raw: Any, job_id: str) -> Optional["Track"]:
        if raw is None:
            return None
        shown, at = (_number(raw.get("fraction")), _number(raw.get("at"))) if isinstance(raw, dict) else (None, None)
        if shown is None or at is None or not (0 <= shown <= 1 and 0 <= at <= MAX_WAIT_LIMIT):
            raise InvalidInput("poll.progress must be the object a previous call returned: a fraction 0-1 and the"
                               " seconds since poll.started_at it was seen at", job_id)
        return cls(shown, at)


def _whole_number(text: str, digits: int) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= digits


def _decimal(text: str, name: str) -> float:
    whole, _, decimals = text.partition(".")
    if not (_whole_number(whole, 10) and (not decimals or _whole_number(decimals, 6))):
        raise InvalidInput(f"the query parameter {name} must be a number such as 0.35, got {text!r:.20}")
    return float(text)


# The loop's state in a URL's query string (Poll.to_query, Poll.from_query): poll's fields, with poll.progress as
# `progress` and `progress_at`.
POLL_QUERY = ("started_at", "attempt", "errors", "max_wait", "progress", "progress_at")


class Poll(NamedTuple):
    """The loop's state: what one call leaves for the next (`poll` in the JSON, or the query string of a
    `Location`)."""

    attempt: int = 0  # calls so far
    started_at: Optional[datetime] = None  # None: this call starts the loop
    max_wait: Optional[int] = None  # None: the configured one
    errors: int = 0  # consecutive transient failures
    progress: Optional[Track] = None  # the last progress reading, to tell a moving job from a stalled one
    # Not in the JSON: no state came and none will (a timer tick, an SMN or Kafka message, an API Gateway GET).
    # Such a call cannot wait through a 404, and its deadline counts from the job's own begin_time.
    stateless: bool = False

    def to_dict(self) -> dict[str, Any]:
        """What from_dict reads, whatever the value: the counters saturate at MAX_COUNT."""
        started_at = format_time(self.started_at) if self.started_at else None
        return {"attempt": min(self.attempt, MAX_COUNT), "started_at": started_at, "max_wait": self.max_wait,
                "errors": min(self.errors, MAX_COUNT), "progress": self.progress.to_dict() if self.progress else None}

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

    def to_query(self) -> list[tuple[str, str]]:
        """The state as query parameters, in the order of POLL_QUERY: what to_dict writes, numbers as from_query reads
        them (never in exponent form: a track's values are rounded, and at most 10 digits long)."""
        written = self.to_dict()
        query = [(name, str(written[name])) for name in POLL_QUERY[:4] if written[name] is not None]
        if written["progress"]:
            query += [("progress", str(written["progress"]["fraction"])),
                      ("progress_at", str(written["progress"]["at"]))]
        return query

    @classmethod
    def from_query(cls, parameters: Mapping[str, Optional[str]]) -> dict[str, Any]:
        """The state that query parameters of POLL_QUERY carry (each given once, None when absent), as the poll object
        from_dict reads; InvalidInput when one is not as to_query writes it."""
        poll: dict[str, Any] = {}
        for name in POLL_QUERY[:4]:
            value = parameters.get(name)
            if value is None:
                continue
            if name != "started_at" and not _whole_number(value, 10):
                raise InvalidInput(f"the query parameter {name} must be a whole number, got {value!r:.20}")
            poll[name] = value if name == "started_at" else int(value)
        shown, at = parameters.get("progress"), parameters.get("progress_at")
        if (shown is None) != (at is None):
            raise InvalidInput("the query parameters progress and progress_at go together, as a Location gives them")
        if shown is not None and at is not None:
            poll["progress"] = {"fraction": _decimal(shown, "progress"), "at": _decimal(at, "progress_at")}
        return poll


class Progress(NamedTuple):
    """How far a job says it is (`progress` in the result): the fraction done, from which source ("percent",
    "sub_jobs" or "expected_end"), the sub-jobs done, failed and in all, and the estimated seconds left."""

    fraction: float
    source: str
    sub_jobs: Optional[tuple[int, int, int]] = None
    eta_seconds: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        sub_jobs = dict(zip(("done", "failed", "total"), self.sub_jobs)) if self.sub_jobs else None
        eta = None if self.eta_seconds is None else min(self.eta_seconds, MAX_COUNT)  # 31 years: saturated
        return {"fraction": _share(self.fraction), "source": self.source, "sub_jobs": sub_jobs, "eta_seconds": eta}

    @classmethod
    def from_dict(cls, raw: Any) -> Optional["Progress"]:
        """A result's progress fed back, as it was shown; None when it is not one (a fraction that is not a finite
        number 0-1, as a hand-edited result may hold)."""
        shown = fraction(raw.get("fraction")) if isinstance(raw, dict) else None
        if shown is None or not isinstance(raw.get("source"), str):
            return None
        sub_jobs, eta = raw.get("sub_jobs"), raw.get("eta_seconds")
        counts = [sub_job_count(sub_jobs.get(key)) for key in ("done", "failed", "total")] \
            if isinstance(sub_jobs, dict) else []
        done, failed, total = counts or (None, None, None)
        return cls(shown, raw["source"][:20],
                   (done, failed, total) if done is not None and failed is not None and total is not None else None,
                   eta if type(eta) is int and eta >= 0 else None)


def _optional_text(raw: Mapping[str, Any], name: str, job_id: str) -> Optional[str]:
    value = raw.get(name)
    if value is not None and not (isinstance(value, str) and len(value) <= 64):
        raise InvalidInput(f"{name} must stay as a previous call returned it", job_id)
    return value


# Every answer's JSON fits in this many characters: fed back through API Gateway (base64, 4/3 longer) it stays far
# inside the request body jobstep reads (events.MAX_PAYLOAD_CHARS), and inside an asynchronous invocation's 256 KB.
MAX_ANSWER_CHARS = 64 * 1024
_BRIEF_MESSAGE = 500


class JobRef(NamedTuple):
    """Which job a result is about, as far as it is known: its id, project, region and job API."""

    job_id: Optional[str] = None
    project_id: Optional[str] = None
    region: Optional[str] = None
    service: Optional[str] = None


class Result(NamedTuple):
    """What every call answers, and the next call's input: the job, the verdict, and the loop's state."""

    ref: JobRef
    done: bool
    status: str  # a Status, or the running job's own status, trimmed and upper-cased
    retry_after: Optional[int]  # whole seconds until the next call; None when done
    job: Optional[Job]  # the last snapshot the job API gave
    error: Optional[Error]
    poll: Poll
    progress: Optional[Progress] = None  # how far the job says it is; None when it says nothing

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON carries it, at most MAX_ANSWER_CHARS long: a job API that says more than fits (texts
        of escaped characters, say) is shown in brief, with its error's message cut. Only sub-jobs can take it
        past the bound: without them, every text, the entities and the message at their longest, each character
        escaped, fit (a test in tests/test_round_trip.py holds this), so the common result is not measured."""
        written = self._written(self.job, self.error)
        if self.job and self.job.sub_jobs and len(json.dumps(written)) > MAX_ANSWER_CHARS:
            error = self.error._replace(message=self.error.message[:_BRIEF_MESSAGE]) if self.error else None
            written = self._written(self.job.in_brief(), error)
        return written

    def _written(self, job: Optional[Job], error: Optional[Error]) -> dict[str, Any]:
        return {
            **self.ref._asdict(),
            "done": self.done,
            "status": str_value(self.status),
            "retry_after": self.retry_after,
            "job": job.to_dict() if job else None,
            "error": error.to_dict() if error else None,
            "poll": self.poll.to_dict(),
            "progress": self.progress.to_dict() if self.progress else None,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], job_id: str, now: datetime) -> "Result":
        """A result fed back, validated as input: a finished one (done: true), answered as it is, or one of a group
        that has ended, whose jobs are not asked again."""
        status = raw.get("status")
        if not isinstance(status, str) or not 0 < len(status) <= 64:
            raise InvalidInput("a result fed back must keep its status", job_id)
        done, retry_after = raw.get("done") is True, raw.get("retry_after")
        if not done and not (type(retry_after) is int and 1 <= retry_after <= MAX_WAIT_LIMIT):
            raise InvalidInput("a result fed back must keep its retry_after", job_id)
        job, error = raw.get("job"), raw.get("error")
        return cls(
            ref=JobRef(job_id, *(_optional_text(raw, name, job_id) for name in ("project_id", "region", "service"))),
            done=done,
            status=status,
            retry_after=None if done else retry_after,
            job=Job.from_fields(job) if isinstance(job, dict) else None,
            error=None if error is None else Error.from_dict(error, job_id),
            poll=Poll.from_dict(raw.get("poll"), job_id, now),
            progress=Progress.from_dict(raw.get("progress")),
        )


# The most jobs one group names: each is queried in turn within the function's time (the template's 30 s leaves
# each at least 1.4 s), and the group's answer, each job's result in brief, stays inside MAX_ANSWER_CHARS.
MAX_JOBS = 20
_GROUP_BRIEF_MESSAGE = 200


class Until(str, Enum):
    """When a group of jobs is done: when all of them succeeded (or one did not), or when any one succeeded (or
    none did). botocore's waiters say the same with their pathAll and pathAny acceptors."""

    ALL = "all"
    ANY = "any"


class GroupResult(NamedTuple):
    """What a call about a group of jobs answers, and the next call's input: each job's own result, and the
    group's verdict on them."""

    until: Until
    results: tuple[Result, ...]
    done: bool
    status: str
    retry_after: Optional[int]
    error: Optional[Error]
    progress: Optional[Progress] = None

    def to_dict(self) -> dict[str, Any]:
        """The group as JSON carries it, at most MAX_ANSWER_CHARS long: past that, each job's result without its
        snapshot and with its error's message cut (MAX_JOBS of those fit, a test in tests/test_groups.py holds
        it)."""
        written = self._written([result.to_dict() for result in self.results], self.error)
        if len(json.dumps(written)) > MAX_ANSWER_CHARS:
            written = self._written([result._written(None, _brief(result.error)) for result in self.results],
                                    _brief(self.error))
        return written

    def to_query(self) -> list[tuple[str, str]]:
        """The group's state as the query parameters of a Location (GROUP_QUERY): each a comma-separated list with
        one entry per job, in the group's order ("" where a job has none), which events.py reads back. Its values
        are ids, region and service names, digits, times, statuses and error types: none holds a comma."""
        polls = [dict(result.poll.to_query()) for result in self.results]
        query = [("job_ids", ",".join(result.ref.job_id or "" for result in self.results)),
                 ("until", self.until.value)]
        for name in GROUP_QUERY[2:]:
            if name in JobRef._fields:
                values = [getattr(result.ref, name) or "" for result in self.results]
            elif name == "ended":
                values = [_ending(result) for result in self.results]
            else:
                values = [poll.get(name, "") for poll in polls]
            if any(values):
                query.append((name, ",".join(values)))
        return query

    def _written(self, results: list[dict[str, Any]], error: Optional[Error]) -> dict[str, Any]:
        return {
            "until": str_value(self.until),
            "done": self.done,
            "status": str_value(self.status),
            "retry_after": self.retry_after,
            "error": error.to_dict() if error else None,
            "progress": self.progress.to_dict() if self.progress else None,
            "jobs": results,
        }


# A group's state in a Location's query string: GroupResult.to_query writes it, events.py reads it.
GROUP_QUERY = ("job_ids", "until", "project_id", "region", "service", *POLL_QUERY, "ended")
ENDINGS = (Status.SUCCESS, Status.FAIL, Status.TIMEOUT, Status.ERROR)


def _ending(result: Result) -> str:
    """How a job of a group ended, as its Location carries it: "" while it runs, SUCCESS, or STATUS:error_type."""
    if not result.done:
        return ""
    status = next((ending for ending in ENDINGS if ending.value == result.status), Status.ERROR)
    if status is Status.SUCCESS or result.error is None:
        return status.value
    return f"{status.value}:{result.error.type.value}"


def _brief(error: Optional[Error]) -> Optional[Error]:
    return error._replace(message=error.message[:_GROUP_BRIEF_MESSAGE]) if error else None
