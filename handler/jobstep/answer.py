"""The answer's shapes: the Result of a call and the GroupResult of a group (built here and nowhere else), the HTTP
response API Gateway expects around a result, and the JSON log line that records it."""

import json
from collections.abc import Sequence
from typing import Any, Optional, Union
from urllib.parse import quote, urlencode

from .errors import ERRORS
from .events import HttpRequest
from .model import ErrorType, GroupResult, Job, JobRef, Poll, Result, Until, str_value
from .policy import Verdict


def result(verdict: Verdict, poll: Poll, ref: JobRef, job: Optional[Job] = None) -> Result:
    """A call's result: the verdict and the loop's next state, for the job `ref` names (as far as it is known)."""
    return Result(ref, verdict.done, verdict.status, verdict.retry_after, job, verdict.error, poll, verdict.progress)


# What one call answers of a job event: a job's result, or a group's.
Answered = Union[Result, GroupResult]


def grouped(verdict: Verdict, until: Until, results: Sequence[Result]) -> GroupResult:
    """A group's result: its verdict (policy.combine) on its jobs' results."""
    return GroupResult(until, tuple(results), verdict.done, verdict.status, verdict.retry_after, verdict.error,
                       verdict.progress)


def http_status(result: Answered) -> int:
    """200 when done, 202 while the job runs, 503 for transient trouble upstream; a loop that ends with an error
    answers that error's status (errors.py)."""
    error = result.error
    if not result.done:
        return 202 if error is None or error.type is ErrorType.NOT_FOUND else 503
    return ERRORS[error.type].http_status if error else 200


def next_poll(result: Answered, request: HttpRequest) -> str:
    """The URL of the next poll: this request's path, its job fields and the loop's state in the query string
    (Poll.to_query, which events.py reads back with Poll.from_query), or a group's (GroupResult.to_query).

    Absolute when the request's host is known: RFC 9110 allows a relative Location, but not every client takes
    one (Azure's Java management core keeps the poll URL as a java.net.URL, which must be absolute). The values
    need no escaping: ids, digits and a UTC time whose ':' a query may hold (RFC 3986, section 3.4)."""
    state = result.to_query() if isinstance(result, GroupResult) else [*request.carried, *result.poll.to_query()]
    wait = [("wait", str(request.wait))] if request.wait else []
    query = urlencode([*state, *wait], safe=":,")
    return f"{request.origin}{quote(request.path)}?{query}"


_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def http_response(result: Answered, request: HttpRequest) -> dict[str, Any]:
    """The result as API Gateway's function response. While the loop goes on (202, 503), Retry-After says when to
    ask again and Location where: a client that follows only those two reaches the same verdicts as a flow."""
    headers = dict(_HEADERS)
    if not result.done and result.retry_after:
        headers["Retry-After"] = str(result.retry_after)
        headers["Location"] = next_poll(result, request)
    return {"statusCode": http_status(result), "headers": headers, "body": json.dumps(result.to_dict()),
            "isBase64Encoded": False}


def internal_response(result: Result) -> dict[str, Any]:
    """API Gateway's response for a bug in jobstep: a 500 around the internal error, whatever else failed."""
    return {"statusCode": 500, "headers": dict(_HEADERS), "body": json.dumps(result.to_dict()),
            "isBase64Encoded": False}


def log_line(result: Result, request_id: Optional[str], seconds: float) -> str:
    error = result.error
    return json.dumps({
        "request_id": request_id,
        "job_id": result.ref.job_id,
        "attempt": result.poll.attempt,
        "status": str_value(result.status),
        "decision": "done" if result.done else "retry",
        "retry_after": result.retry_after,
        "error": str_value(error.type) if error else None,
        # The result's own message (the job API's words in it are redacted by the client): for a timer, SMN or
        # Kafka trigger the log is the only place a user reads why.
        "message": error.message if error else None,
        "http_status": error.http_status if error else None,
        "latency_ms": round(seconds * 1000, 1),
    })
