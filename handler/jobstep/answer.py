"""The answer's shape: the result object every invocation returns (and takes back as its next input)."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional

from .events import format_time
from .model import Error, Job
from .policy import ERROR, Verdict


def result(
    job_id: Optional[str],
    project_id: Optional[str],
    region: Optional[str],
    service: Optional[str],
    verdict: Verdict,
    job: Optional[Job],
    attempt: int,
    started_at: datetime,
    max_wait: int,
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "project_id": project_id,
        "region": region,
        "service": service,
        "done": verdict.done,
        "status": verdict.status,
        "retry_after": verdict.retry_after,
        "job": job.to_dict() if job else None,
        "error": verdict.error.to_dict() if verdict.error else None,
        "poll": {
            "attempt": attempt,
            "started_at": format_time(started_at),
            "max_wait": max_wait,
            "errors": verdict.errors,
        },
    }


def refusal(
    error: Error,
    job_id: Optional[str],
    project_id: Optional[str],
    region: Optional[str],
    service: Optional[str],
    attempt: int,
    started_at: datetime,
    max_wait: int,
) -> dict[str, Any]:
    """A result for an input or a configuration that cannot be queried: done, with ERROR."""
    verdict = Verdict(True, ERROR, None, error, 0)
    return result(job_id, project_id, region, service, verdict, None, attempt, started_at, max_wait)


def echo(finished: Mapping[str, Any]) -> dict[str, Any]:
    """A finished result fed back: the same verdict, its fields kept as they were."""
    keys = ("job_id", "project_id", "region", "service", "done", "status", "retry_after", "job", "error", "poll")
    shown = {key: finished.get(key) for key in keys}
    shown["retry_after"] = None
    return shown
