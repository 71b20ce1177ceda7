"""The words of errors (errors.py), rule by rule: which error a failed query is, and what each message counts and
quotes. Pure functions, called directly."""

from datetime import datetime, timezone

import pytest
from jobstep.errors import (
    ERRORS,
    RETRY_ADVICE,
    classify,
    error,
    invalid,
    job_failed,
    misconfigured,
    not_found_without_state,
    timed_out,
    unknown_service,
    unreachable,
    unreadable,
)
from jobstep.model import ConfigError, ErrorType, Failure, FailureKind, InvalidInput, Job, Status, SubJob

# README.md, "Verdicts": the first three failed sub-jobs' reasons are in the message, with how many more failed.
SHOWN = 3


def failed_sub_jobs(count):
    return tuple(SubJob("FAIL", f"sub-{number}", "createServer", f"Ecs.{number:04d}", f"reason {number}",
                        outcome=Status.FAIL) for number in range(count))


@pytest.mark.parametrize("failed, listed", [(0, 0), (1, 1), (SHOWN, SHOWN), (SHOWN + 1, SHOWN + 1), (5, 5), (25, 10)])
def test_a_failed_jobs_message_quotes_the_first_three_failed_sub_jobs_and_counts_the_others(failed, listed):
    # `failed` sub-jobs failed, of which the answer lists `listed` (at most ten). Catches: a fourth sub-job quoted,
    # a third left out, "N more" counted from those listed rather than from all that failed, or said when none more.
    job = Job("FAIL", "job-1", "createServers", error_code="Ecs.0000", fail_reason="batch failed",
              sub_jobs=failed_sub_jobs(listed), sub_jobs_failed=failed, outcome=Status.FAIL)

    message = job_failed(job).message

    for number in range(listed):
        quoted = f"Sub-job sub-{number} failed: Ecs.{number:04d}: reason {number}."
        assert (quoted in message) is (number < SHOWN), number
    more = failed - SHOWN
    assert (f" {more} more sub-jobs failed." in message) is (more > 0)
    assert "more sub-jobs failed" not in message or more > 0


def test_a_failed_jobs_message_names_its_type_code_and_reason():
    # Catches: the job's type, code or reason left out, or quoted without the code that goes with it.
    message = job_failed(Job("FAIL", "job-1", "deleteELB", error_code="ELB.1004", fail_reason="member in use")).message

    assert message.startswith("The job (deleteELB) failed: ELB.1004: member in use.")


@pytest.mark.parametrize("job, advised", [
    (Job("FAIL"), True),
    (Job("FAIL", fail_reason="quota"), False),
    (Job("FAIL", error_code="Ecs.0013"), False),
    (Job("FAIL", sub_jobs=(SubJob("FAIL", "sub-1", outcome=Status.FAIL),), sub_jobs_failed=1), False),
    (Job("FAIL", sub_jobs=(SubJob("SUCCESS", "sub-1", outcome=Status.SUCCESS),)), True),
])
def test_a_failed_job_is_advised_to_be_looked_at_only_when_the_api_gave_no_reason_at_all(job, advised):
    # README: the rule's advice (look at the job in the console) only when neither the job nor a failed sub-job
    # says why. Catches: the advice added beside a reason, or left out when nothing says why.
    assert (ERRORS[ErrorType.JOB_FAILED].advice in job_failed(job).message) is advised


def test_a_failed_sub_job_without_a_reason_is_still_named():
    # Catches: a failed sub-job quoted with an empty reason (": .") or not at all.
    job = Job("FAIL", sub_jobs=(SubJob("FAIL", "sub-1", outcome=Status.FAIL),), sub_jobs_failed=1)

    assert "Sub-job sub-1 failed." in job_failed(job).message


@pytest.mark.parametrize("status, message, kind", [
    (400, "bad", ErrorType.BAD_REQUEST), (401, "verify aksk signature fail", ErrorType.UNAUTHORIZED),
    (401, "calc ak sk signature fail:signature Expired", ErrorType.CLOCK_SKEW),
    (403, "no", ErrorType.FORBIDDEN), (404, "gone", ErrorType.NOT_FOUND), (408, "slow", ErrorType.UNAVAILABLE),
    (429, "busy", ErrorType.THROTTLED), (500, "oops", ErrorType.UNAVAILABLE), (599, "oops", ErrorType.UNAVAILABLE),
    (499, "other", ErrorType.HTTP_ERROR), (302, "moved", ErrorType.HTTP_ERROR), (None, "none", ErrorType.HTTP_ERROR),
])
def test_a_failed_query_is_the_error_its_http_status_says(status, message, kind):
    # README's verdicts: 429 throttled, 408 and 5xx unavailable, a 401 saying its signature expired a clock skew,
    # any other 4xx or 3xx an http_error. Catches: a status moved to another error, the 5xx bound moved, "expired"
    # matched in one case only.
    error = classify(Failure(FailureKind.HTTP, message, status, "APIGW.0301"))

    assert error.type is kind and error.http_status == status and error.retryable is ERRORS[kind].retryable


def test_a_failed_query_quotes_the_job_apis_code_and_message():
    # Catches: what the job API said dropped from the message, or its code without its message.
    error = classify(Failure(FailureKind.HTTP, "Incorrect IAM authentication", 401, "APIGW.0301"))

    assert "(APIGW.0301: Incorrect IAM authentication)" in error.message


@pytest.mark.parametrize("kind", [FailureKind.TIMEOUT, FailureKind.CONNECTION, FailureKind.BAD_RESPONSE])
def test_a_query_that_gave_no_http_answer_is_its_own_error_and_says_why(kind):
    # Catches: a timeout, connection or bad body taken for an HTTP error, or its detail left out.
    error = classify(Failure(kind, "no answer within 9.0 s"))

    assert error.type.value == kind.value and error.retryable and "no answer within 9.0 s" in error.message


def test_a_404_without_loop_state_says_how_to_wait_through_one():
    # docs/events.md: such a call cannot wait through a 404; the message says how to give it a start.
    # Catches: the 404's own words lost, or the way to wait not said.
    not_found = classify(Failure(FailureKind.HTTP, "not found", 404))

    message = not_found_without_state(not_found).message

    assert message.startswith(not_found.message) and "poll.started_at" in message and "POST" in message


START = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)


def test_a_timeout_says_when_the_loop_began_its_max_wait_and_status_and_quotes_the_last_problem_without_a_retry():
    # README: TIMEOUT after max_wait, the last known status and the last transient problem, without "Will retry"
    # (nothing will). Catches: a field left out, the problem not quoted, or quoted with its advice to wait.
    problem = classify(Failure(FailureKind.HTTP, "busy", 503))
    assert problem.message.endswith(RETRY_ADVICE)

    error = timed_out(3600, "RUNNING", START, problem)

    assert error.type is ErrorType.MAX_WAIT and not error.retryable
    assert "3600 s" in error.message and "2026-11-28T08:00:00Z" in error.message and "RUNNING" in error.message
    quoted = problem.message[:-len(RETRY_ADVICE)].rstrip()
    assert error.message.endswith(f" {quoted}") and RETRY_ADVICE not in error.message


def test_a_timeout_without_a_problem_says_only_its_own_words():
    # Catches: a "last problem" said when there was none.
    assert "problem" not in timed_out(60, "INIT", START, None).message


def test_an_error_adds_no_words_the_job_api_did_not_say_nor_advice_its_rule_does_not_give():
    # An error of a rule without advice is its lead alone (an invalid input's or a configuration's message is the
    # refusal's words); one without words from the job API quotes none. Catches: an empty quote "()" or a ". "
    # added, or the refusal's words replaced.
    assert invalid(InvalidInput("job_id must be 1-64 letters")).message == "job_id must be 1-64 letters"
    configuration = misconfigured(ConfigError("JOBSTEP_MAX_WAIT must be whole seconds"))
    assert configuration.type is ErrorType.CONFIGURATION and not configuration.retryable
    assert configuration.message == "JOBSTEP_MAX_WAIT must be whole seconds"
    assert error(ErrorType.THROTTLED).message == f"The job API is throttling requests. {RETRY_ADVICE}"


def test_a_failed_job_without_type_or_reason_says_so_plainly_then_advises():
    # Catches: an empty "()" or ": " where the job API gave nothing, or the advice in place of the message.
    message = job_failed(Job("FAIL")).message

    assert message == f"The job failed. {ERRORS[ErrorType.JOB_FAILED].advice}"


def test_a_reason_is_quoted_up_to_300_characters():
    # Each code and reason a job API gives is quoted up to 300 characters, so that the job's and three sub-jobs'
    # fit in a message. Catches: the cut moved.
    message = job_failed(Job("FAIL", fail_reason="x" * 1000)).message

    assert "x" * 300 in message and "x" * 301 not in message


def test_a_bad_answer_keeps_the_http_status_it_came_with():
    # A 2xx whose body is not the job is a bad_response that still says its HTTP status. Catches: the status dropped.
    error_ = classify(Failure(FailureKind.BAD_RESPONSE, "the answer was not JSON", 200))

    assert error_.type is ErrorType.BAD_RESPONSE and error_.http_status == 200


def test_the_details_of_a_query_that_failed_name_what_failed():
    # Catches: the exception's type or the host left out of the detail a user reads.
    assert "ValueError" in unreadable(ValueError("x"))
    assert unreachable("elb.example.com", ConnectionError()) == "could not reach elb.example.com: ConnectionError"


def test_an_unknown_service_is_refused_listing_the_services():
    # Catches: the list of services joined otherwise than as a list.
    assert "one of elb, ecs; got 'iam'" in unknown_service("iam", ["elb", "ecs"]).message
