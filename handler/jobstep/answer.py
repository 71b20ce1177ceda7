"""The answer's shapes: the result object every invocation returns (and takes back as its next input),
and the HTTP response API Gateway expects around it."""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional
from urllib.parse import quote, urlencode

from .events import HttpRequest, format_time
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
            "started_at": format_time(verdict.started_at),
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
    verdict = Verdict(True, ERROR, None, error, 0, started_at)
    return result(job_id, project_id, region, service, verdict, None, attempt, max_wait)


def echo(finished: Mapping[str, Any]) -> dict[str, Any]:
    """A finished result fed back: the same verdict, its fields kept as they were."""
    keys = ("job_id", "project_id", "region", "service", "done", "status", "retry_after", "job", "error", "poll")
    shown = {key: finished.get(key) for key in keys}
    shown["retry_after"] = None
    return shown


# The HTTP status of a finished result that is an error, by error type. Refusals by the job API of the
# function's own credentials are the gateway's fault as seen from the caller: 502.
_ERROR_STATUS = {
    "invalid_input": 400,
    "bad_request": 400,
    "not_found": 404,
    "unauthorized": 502,
    "clock_skew": 502,
    "forbidden": 502,
    "http_error": 502,
}


def http_status(answer: Mapping[str, Any]) -> int:
    """200 when done, 202 while the job runs, 503 for transient trouble upstream, else by the error."""
    error = answer.get("error") or {}
    if not answer.get("done"):
        return 202 if error.get("type") in (None, "not_found") else 503
    if answer.get("status") != ERROR:
        return 200
    return _ERROR_STATUS.get(error.get("type"), 500)  # configuration, credentials, internal


def next_poll(answer: Mapping[str, Any], request: HttpRequest) -> str:
    """The URL of the next poll: this request's path, its job fields and the loop's state in the query string.

    Absolute when the request's host is known: RFC 9110 allows a relative Location, but not every client takes
    one (Azure's Java management core keeps the poll URL as a java.net.URL, which must be absolute). The values
    need no escaping: ids, digits and a UTC time whose ':' a query may hold (RFC 3986, section 3.4)."""
    poll = answer["poll"]
    state = [("started_at", poll["started_at"]), ("attempt", poll["attempt"]), ("errors", poll["errors"]),
             ("max_wait", poll["max_wait"])]
    wait = [("wait", request.wait)] if request.wait else []
    return f"{request.origin}{quote(request.path)}?{urlencode([*request.carried, *state, *wait], safe=':')}"


def http_response(answer: Mapping[str, Any], request: HttpRequest) -> dict[str, Any]:
    """The result as API Gateway's function response. While the loop goes on (202, 503), Retry-After says when to
    ask again and Location where: a client that follows only those two reaches the same verdicts as a flow."""
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if not answer.get("done") and answer.get("retry_after"):
        headers["Retry-After"] = str(answer["retry_after"])
        headers["Location"] = next_poll(answer, request)
    return {"statusCode": http_status(answer), "headers": headers, "body": json.dumps(answer), "isBase64Encoded": False}
