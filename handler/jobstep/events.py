"""Parsing the invocation event into a Query (or a finished result fed back), and nothing else.

Everything here is pure: a malformed event raises InvalidInput with a message for the user,
which the handler turns into a verdict before any request is made.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Union

from .model import Job
from .services import SERVICES

ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z0-9]{1,20}){1,3}")
_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?", re.ASCII
)
MAX_WAIT_LIMIT = 31 * 24 * 3600
# started_at comes from the orchestrator's clock; allow it a little drift, not a loop with no end.
FUTURE_TOLERANCE = timedelta(minutes=5)


class InvalidInput(ValueError):
    """The event cannot be queried; the message says what to fix."""

    def __init__(self, message: str, job_id: Optional[str] = None):
        super().__init__(message)
        self.job_id = job_id


@dataclass(frozen=True)
class Poll:
    """The loop's state as it arrives: what earlier calls left for this one."""

    attempt: int = 0
    started_at: Optional[datetime] = None
    max_wait: Optional[int] = None
    errors: int = 0


@dataclass(frozen=True)
class Query:
    job_id: str
    project_id: Optional[str]
    region: Optional[str]
    service: Optional[str]
    poll: Poll
    last_job: Optional[Job]


@dataclass(frozen=True)
class Finished:
    """A result whose loop already ended, fed back: answered as it is, without a query."""

    result: Mapping[str, Any]


def parse_time(text: Any) -> Optional[datetime]:
    """An ISO-8601 timestamp as an aware UTC datetime; None when it is not one."""
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
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def valid_region(value: Any) -> bool:
    return isinstance(value, str) and REGION_PATTERN.fullmatch(value) is not None


def _count(value: Any, name: str, job_id: str) -> int:
    # bool is an int in Python; an orchestrator never means True as a count.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
        raise InvalidInput(f"poll.{name} must be a whole number from 0, got {value!r:.40}", job_id)
    return value


def _parse_poll(raw: Any, job_id: str, now: datetime) -> Poll:
    if raw is None:
        return Poll()
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
    return Poll(
        attempt=_count(raw.get("attempt", 0), "attempt", job_id),
        started_at=started_at,
        max_wait=max_wait,
        errors=_count(raw.get("errors", 0), "errors", job_id),
    )


def parse_event(event: Any, now: datetime) -> Union[Query, Finished]:
    """The job to query, from a direct invocation or a result fed back by an orchestrator."""
    if not isinstance(event, dict):
        raise InvalidInput(f'the event must be a JSON object like {{"job_id": "..."}}, got {type(event).__name__}')
    job_id = event.get("job_id")
    if not valid_id(job_id):
        shown = "missing" if job_id is None else f"{job_id!r:.80}"
        raise InvalidInput(f"job_id must be 1-64 letters, digits or '-', as the job API returned it; got {shown}")
    if event.get("done") is True:
        if not isinstance(event.get("status"), str):
            raise InvalidInput("a finished result fed back must keep its status", job_id)
        return Finished(event)
    project_id = event.get("project_id")
    if project_id is not None and not valid_id(project_id):
        raise InvalidInput("project_id must be 1-64 letters, digits or '-' (the project's ID, not its name)", job_id)
    region = event.get("region")
    if region is not None and not valid_region(region):
        raise InvalidInput(f"region must look like ap-southeast-1, got {region!r:.80}", job_id)
    service = event.get("service")
    if service is not None and service not in SERVICES:
        raise InvalidInput(f"service must be one of {', '.join(SERVICES)}; got {service!r:.40}", job_id)
    last_job = event.get("job")
    return Query(
        job_id=job_id,
        project_id=project_id,
        region=region,
        service=service,
        poll=_parse_poll(event.get("poll"), job_id, now),
        last_job=Job.from_fields(last_job) if isinstance(last_job, dict) else None,
    )
