"""The answer's shapes: the Result of a call (built here and nowhere else), the HTTP response API Gateway expects
around it, and the JSON log line that records it."""

import json
from typing import Any, Optional
from urllib.parse import quote, urlencode

from .errors import ERRORS
from .events import HttpRequest
from .model import ErrorType, Job, Poll, Result, plain
from .policy import Verdict


def result(verdict: Verdict, poll: Poll, job: Optional[Job] = None, *, job_id: Optional[str] = None,
           project_id: Optional[str] = None, region: Optional[str] = None, service: Optional[str] = None) -> Result:
    """A call's result: the verdict and the loop's next state, for the job it names (as far as it is known)."""
    return Result(job_id, project_id, region, service, verdict.done, verdict.status, verdict.retry_after, job,
                  verdict.error, poll, verdict.progress)


def http_status(answer: Result) -> int:
    """200 when done, 202 while the job runs, 503 for transient trouble upstream; a loop that ends with an error
    answers that error's status (errors.py)."""
    error = answer.error
    if not answer.done:
        return 202 if error is None or error.type is ErrorType.NOT_FOUND else 503
    return ERRORS[error.type].http_status if error else 200


def next_poll(answer: Result, request: HttpRequest) -> str:
    """The URL of the next poll: this request's path, its job fields and the loop's state in the query string.

    Absolute when the request's host is known: RFC 9110 allows a relative Location, but not every client takes
    one (Azure's Java management core keeps the poll URL as a java.net.URL, which must be absolute). The values
    need no escaping: ids, digits and a UTC time whose ':' a query may hold (RFC 3986, section 3.4)."""
    poll = answer.poll.to_dict()
    state = [(name, poll[name]) for name in ("started_at", "attempt", "errors", "max_wait")]
    if poll["progress"]:
        state += [("progress", poll["progress"]["fraction"]), ("progress_at", poll["progress"]["at"])]
    wait = [("wait", request.wait)] if request.wait else []
    return f"{request.origin}{quote(request.path)}?{urlencode([*request.carried, *state, *wait], safe=':')}"


def http_response(answer: Result, request: HttpRequest) -> dict[str, Any]:
    """The result as API Gateway's function response. While the loop goes on (202, 503), Retry-After says when to
    ask again and Location where: a client that follows only those two reaches the same verdicts as a flow."""
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if not answer.done and answer.retry_after:
        headers["Retry-After"] = str(answer.retry_after)
        headers["Location"] = next_poll(answer, request)
    return {"statusCode": http_status(answer), "headers": headers, "body": json.dumps(answer.to_dict()),
            "isBase64Encoded": False}


def internal_response(answer: Result) -> dict[str, Any]:
    """API Gateway's response for a bug in jobstep: a 500 around the internal error, whatever else failed."""
    return {"statusCode": 500, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(answer.to_dict()), "isBase64Encoded": False}


def log_line(answer: Result, request_id: Optional[str], seconds: float) -> str:
    error = answer.error
    return json.dumps({
        "request_id": request_id,
        "job_id": answer.job_id,
        "attempt": answer.poll.attempt,
        "status": plain(answer.status),
        "decision": "done" if answer.done else "retry",
        "retry_after": answer.retry_after,
        "error": plain(error.type) if error else None,
        # The answer's own message (the job API's words in it are redacted by the client): for a timer, SMN or
        # Kafka trigger the log is the only place a user reads why.
        "message": error.message if error else None,
        "http_status": error.http_status if error else None,
        "latency_ms": round(seconds * 1000, 1),
    })
