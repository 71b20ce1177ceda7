"""The error catalogue: for each error type, whether a later call may succeed, what to tell the user, and the
HTTP status an API Gateway caller gets when the loop ends with it; and which error a failed query is."""

from typing import NamedTuple

from .model import Error, ErrorType, Failure, FailureKind


class Rule(NamedTuple):
    retryable: bool
    http_status: int  # when the loop ends with this error (a retry in progress answers 202 or 503)
    lead: str  # what happened; {status} is the job API's HTTP status, {detail} the client's account of it
    advice: str  # what to do


RETRY_ADVICE = "Will retry."  # true only while the loop goes on: a TIMEOUT quotes the problem without it
# API Gateway statuses: refusals of the function's own credentials are the gateway's fault as the caller sees
# it (502); an error of the function's own set-up is 500.
ERRORS: dict[ErrorType, Rule] = {
    ErrorType.INVALID_INPUT: Rule(False, 400, "", ""),
    ErrorType.CONFIGURATION: Rule(False, 500, "", ""),
    ErrorType.CREDENTIALS: Rule(False, 500, "", ""),
    ErrorType.INTERNAL: Rule(False, 500, "", ""),
    ErrorType.JOB_FAILED: Rule(False, 200, "", ""),
    ErrorType.MAX_WAIT: Rule(False, 200, "", ""),
    ErrorType.TIMEOUT: Rule(True, 503, "The job API could not be read: {detail}", RETRY_ADVICE),
    ErrorType.CONNECTION: Rule(True, 503, "The job API could not be read: {detail}", RETRY_ADVICE),
    ErrorType.BAD_RESPONSE: Rule(True, 503, "The job API could not be read: {detail}", RETRY_ADVICE),
    ErrorType.THROTTLED: Rule(True, 503, "The job API is throttling requests", RETRY_ADVICE),
    ErrorType.UNAVAILABLE: Rule(True, 503, "The job API answered HTTP {status}", RETRY_ADVICE),
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
    ErrorType.HTTP_ERROR: Rule(False, 502, "The job API answered HTTP {status}", ""),
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


def _kind(failure: Failure) -> ErrorType:
    if failure.kind is not FailureKind.HTTP:
        return ErrorType(failure.kind.value)
    status = failure.http_status or 0
    if status == 401 and _EXPIRED in failure.message.lower():
        return ErrorType.CLOCK_SKEW
    return _BY_HTTP_STATUS.get(status, ErrorType.UNAVAILABLE if status >= 500 else ErrorType.HTTP_ERROR)


def classify(failure: Failure) -> Error:
    """The error a failed query is: its type, whether a later call may succeed, and what to do."""
    kind = _kind(failure)
    rule = ERRORS[kind]
    said = ": ".join(part for part in (failure.code, failure.message) if part)
    lead = rule.lead.format(status=failure.http_status, detail=failure.message)
    if failure.kind is FailureKind.HTTP and said:
        lead += f" ({said})"
    message = f"{lead}. {rule.advice}".strip()
    return Error(kind, message, rule.retryable, failure.http_status)
