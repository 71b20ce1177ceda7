"""Every word a user reads about an error: for each error type, whether a later call may succeed, what to tell the
user and the HTTP status an API Gateway caller gets when the loop ends with it; which error a failed query is; and
the errors and failure details that the other modules give (no project, a job that failed, a request not
answered in time, ...). What an input must be is said where it is checked, in the Refusal it raises (model.py);
this module wraps a Refusal into the error the user reads."""

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple, Optional

from .model import (
    ConfigError,
    Error,
    ErrorType,
    Failure,
    FailureKind,
    InvalidInput,
    Job,
    Status,
    format_time,
    str_value,
)


class Rule(NamedTuple):
    retryable: bool
    http_status: int  # when the loop ends with this error (a retry in progress answers 202 or 503)
    lead: str  # what happened; {http_status} is the job API's HTTP status, other fields as `error` is given them
    advice: str  # what to do


RETRY_ADVICE = "Will retry."  # true only while the loop goes on: a TIMEOUT quotes the problem without it
_READ_FAILED = "The job API could not be read: {detail}"
# API Gateway statuses: refusals of the function's own credentials are the gateway's fault as the caller sees
# it (502); an error of the function's own set-up is 500.
ERRORS: dict[ErrorType, Rule] = {
    ErrorType.INVALID_INPUT: Rule(False, 400, "{detail}", ""),
    ErrorType.CONFIGURATION: Rule(False, 500, "{detail}", ""),
    ErrorType.CREDENTIALS: Rule(False, 500, "{detail}", ""),
    ErrorType.INTERNAL: Rule(False, 500, "jobstep failed unexpectedly ({detail}); please report it", ""),
    ErrorType.JOB_FAILED: Rule(False, 200, "The job{kind} failed{reason}",
                               "The job API gave no reason: look at the job in the service's console."),
    ErrorType.MAX_WAIT: Rule(
        False, 200, "The job did not end within max_wait ({max_wait} s) of {started_at}; its last known status was"
                    " {status}",
        "Raise JOBSTEP_MAX_WAIT (or poll.max_wait) if it normally takes longer, or look at the job in the console.",
    ),
    ErrorType.TIMEOUT: Rule(True, 503, _READ_FAILED, RETRY_ADVICE),
    ErrorType.CONNECTION: Rule(True, 503, _READ_FAILED, RETRY_ADVICE),
    ErrorType.BAD_RESPONSE: Rule(True, 503, _READ_FAILED, RETRY_ADVICE),
    ErrorType.THROTTLED: Rule(True, 503, "The job API is throttling requests", RETRY_ADVICE),
    ErrorType.UNAVAILABLE: Rule(True, 503, "The job API answered HTTP {http_status}", RETRY_ADVICE),
    ErrorType.NOT_FOUND: Rule(
        False, 404, "The job was not found",
        "Check job_id, project_id and region; a job is deleted about a day after it ends.",
    ),
    ErrorType.BAD_REQUEST: Rule(
        False, 400, "The job API rejected the request", "Check that job_id and project_id belong to this region.",
    ),
    ErrorType.UNAUTHORIZED: Rule(
        False, 502, "The API gateway rejected the credentials",
        "Give the function an agency (its temporary keys sign the request), or check HUAWEICLOUD_SDK_AK /"
        " HUAWEICLOUD_SDK_SK.",
    ),
    ErrorType.CLOCK_SKEW: Rule(
        False, 502, "The API gateway rejected the signature as expired",
        "The clock of the machine that signed it is more than 15 minutes off: synchronise its clock (NTP) and"
        " retry.",
    ),
    ErrorType.FORBIDDEN: Rule(
        False, 502, "Permission denied",
        "Grant the function's agency read access to the service's jobs in this project and region (for ELB, the"
        " ELB ReadOnlyAccess policy).",
    ),
    ErrorType.HTTP_ERROR: Rule(
        False, 502, "The job API answered HTTP {http_status}",
        "Check the job's service, project and region (jobstep follows no redirect).",
    ),
}

# An HTTP status of the job API's answer, and the error it is; any other 5xx is UNAVAILABLE, any other HTTP_ERROR.
_BY_HTTP_STATUS = {
    400: ErrorType.BAD_REQUEST,
    401: ErrorType.UNAUTHORIZED,
    403: ErrorType.FORBIDDEN,
    404: ErrorType.NOT_FOUND,
    408: ErrorType.UNAVAILABLE,
    429: ErrorType.THROTTLED,
}
# What the API gateway says of a signature dated more than 15 minutes off (APIGW.0301, "signature expired").
_EXPIRED = "expired"


def error(kind: ErrorType, http_status: Optional[int] = None, said: str = "", **fields: object) -> Error:
    """The error of `kind` as its rule tells it: what happened (the rule's lead, its fields filled from `fields`
    and `http_status`, and what the job API `said`), then what to do."""
    rule = ERRORS[kind]
    lead = rule.lead.format(http_status=http_status, **fields) + (f" ({said})" if said else "")
    return Error(kind, f"{lead}. {rule.advice}" if rule.advice else lead, rule.retryable, http_status)


def _kind(failure: Failure) -> ErrorType:
    if failure.kind is not FailureKind.HTTP:
        return ErrorType(failure.kind.value)
    status = failure.http_status or 0
    if status == 401 and _EXPIRED in failure.message.lower():
        return ErrorType.CLOCK_SKEW
    return _BY_HTTP_STATUS.get(status, ErrorType.UNAVAILABLE if status >= 500 else ErrorType.HTTP_ERROR)


def classify(failure: Failure) -> Error:
    """The error a failed query is: its type, whether a later call may succeed, and what to do."""
    said = ": ".join(part for part in (failure.code, failure.message) if part)
    kind = _kind(failure)
    if failure.kind is not FailureKind.HTTP:
        return error(kind, failure.http_status, detail=failure.message)
    return error(kind, failure.http_status, said, detail=failure.message)


def invalid(refusal: InvalidInput) -> Error:
    return error(ErrorType.INVALID_INPUT, detail=str(refusal))


def misconfigured(refusal: ConfigError) -> Error:
    return error(ErrorType.CONFIGURATION, detail=str(refusal))


def internal(exc: Exception) -> Error:
    return error(ErrorType.INTERNAL, detail=type(exc).__name__)


def unknown_service(service: str, services: Iterable[str]) -> Error:
    return error(ErrorType.INVALID_INPUT, detail=f"service must be one of {', '.join(services)}; got {service!r:.40}")


NO_PROJECT = error(ErrorType.CONFIGURATION, detail="No project ID: pass project_id in the event, or set"
                   " HUAWEICLOUD_SDK_PROJECT_ID (FunctionGraph sets RUNTIME_PROJECT_ID itself).")
NO_REGION = error(ErrorType.CONFIGURATION, detail="No region: pass region in the event, or set JOBSTEP_REGION (for"
                  " example ap-southeast-1).")
NO_CREDENTIALS = error(ErrorType.CREDENTIALS, detail="No credentials: give the function an agency (FunctionGraph then"
                       " hands its temporary keys to the handler), or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK.")


def unusable_key(name: str) -> Error:
    """A key that no key could be: `name` says which, never its value."""
    return error(ErrorType.CREDENTIALS, detail=f"{name} has a space, a control character or a non-ASCII character"
                 " inside it, which no key has: set it again, copied whole")


def not_found_without_state(not_found: Error) -> Error:
    """A 404 in a call that carries no loop state, which cannot wait through one."""
    return not_found._replace(message=not_found.message + (
        " A job_id issued moments ago can also answer 404 for a short while, and this call carries no loop state"
        " to wait through that: give poll.started_at (when the job was submitted), or through API Gateway start"
        " the wait with POST and follow the Location header."))


def timed_out(max_wait: int, status: str, started_at: datetime, problem: Optional[Error]) -> Error:
    """The loop's end at max_wait, with the job's last known status and the last transient problem, if any."""
    timed = error(ErrorType.MAX_WAIT, max_wait=max_wait, started_at=format_time(started_at), status=status)
    if problem is None:
        return timed
    return timed._replace(message=f"{timed.message} The last problem was:"
                                  f" {problem.message.removesuffix(' ' + RETRY_ADVICE)}")


_SHOWN_FAILED_SUB_JOBS = 3


def _reason(code: object, reason: object) -> str:
    return ": ".join(str(part)[:300] for part in (code, reason) if part)


def job_failed(job: Job) -> Error:
    """What failed and why, with the failed sub-jobs' reasons (ECS, ELB v3 and CCE hide them there); the rule's
    advice only when the job API gave no reason at all."""
    rule = ERRORS[ErrorType.JOB_FAILED]
    reason = _reason(job.error_code, job.fail_reason)
    message = rule.lead.format(kind=f" ({job.job_type})" if job.job_type else "",
                               reason=f": {reason}" if reason else "") + "."
    failed = [sub for sub in job.sub_jobs or () if sub.outcome is Status.FAIL]  # listed first, some of all
    for sub in failed[:_SHOWN_FAILED_SUB_JOBS]:
        sub_reason = _reason(sub.error_code, sub.fail_reason)
        message += f" Sub-job {sub.job_id} failed" + (f": {sub_reason}" if sub_reason else "") + "."
    more = max(job.sub_jobs_failed or 0, len(failed)) - _SHOWN_FAILED_SUB_JOBS
    if more > 0:
        message += f" {more} more sub-jobs failed."
    if not reason and not failed:
        message += f" {rule.advice}"
    return Error(ErrorType.JOB_FAILED, message, rule.retryable)


def group_ended(job_id: Optional[str], count: int, status: str, error: Optional[Error], until_all: bool) -> Error:
    """A group's end at one job's: with until "all", the first job that did not succeed; with "any", the first of
    jobs none of which succeeded. Its error (or job_failed's type when it has none), the job named."""
    ended = str_value(status)
    lead = (f"Job {job_id} of the group's {count} ended {ended}" if until_all
            else f"None of the group's {count} jobs succeeded; the first, {job_id}, ended {ended}")
    if error is None:
        return Error(ErrorType.JOB_FAILED, f"{lead}.", False)
    return error._replace(message=f"{lead}: {error.message}")


def ended_earlier(status: str, kind: str) -> dict[str, object]:
    """The error of a group's job that ended at an earlier call, as a Location carries it (its status and error
    type only), for Error.from_dict."""
    return {"type": kind, "retryable": False,
            "message": f"It ended {status} ({kind}) at an earlier call; that call's answer said why."}


# What a query that gave no job says of itself: the detail of its error.
TOO_LITTLE_TIME = "too little of the invocation's time was left to query the job"
NOT_JSON = "the answer was not JSON"
NO_JOB_STATUS = "the answer had no job status"
LISTS_NO_JOB = "the job API lists no job with this id"


def no_answer(budget: float) -> str:
    return f"no answer within {budget:.1f} s"


def too_large(limit: int) -> str:
    return f"the answer was larger than {limit} bytes"


def unreadable(exc: Exception) -> str:
    return f"the answer could not be read ({type(exc).__name__})"


def unreachable(host: str, exc: Exception) -> str:
    return f"could not reach {host}: {type(exc).__name__}"


def still_unanswered(count: int) -> str:
    return f"its last {count} requests are still unanswered, so no more are sent until one ends"
