"""The answer's shapes (answer.py): the log line of each call, and where an API Gateway client's next poll goes."""

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from helpers import RUNNING_FOREVER, apig, http
from jobstep.answer import log_line, result
from jobstep.errors import classify
from jobstep.model import Failure, FailureKind, JobRef, Poll, Status
from jobstep.policy import Verdict
from jobstep_tools.simulator import Fault

# README.md, "Logs": the fields of the one JSON line per job answered.
LOG_FIELDS = ["request_id", "job_id", "attempt", "status", "decision", "retry_after", "error", "message", "http_status",
              "latency_ms"]


def test_a_log_line_says_of_a_retry_what_its_answer_says(harness):
    # The README's log line: each field is the answer's own (`error` its type, `message` the one a timer's, SMN's or
    # Kafka's user reads there), `decision` retry while the loop goes on. A 503 from the job API is such a retry.
    # Catches: the log's error, message, http_status or retry_after dropped, renamed or taken from nowhere.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    harness.simulator.inject(Fault(503))

    answer = harness.call({"job_id": "job-1"})

    (line,) = harness.logs
    logged = json.loads(line)
    assert list(logged) == LOG_FIELDS
    assert logged["decision"] == "retry" and logged["retry_after"] == answer["retry_after"] >= 1
    assert logged["error"] == answer["error"]["type"] == "unavailable"
    assert logged["message"] == answer["error"]["message"]
    assert logged["http_status"] == answer["error"]["http_status"] == 503
    assert (logged["job_id"], logged["attempt"], logged["status"]) == ("job-1", 1, answer["status"])


def test_a_log_line_of_a_call_without_error_has_none_and_says_done():
    # Catches: error fields filled from a result that has no error, or a done result logged as a retry.
    done = result(Verdict(True, Status.SUCCESS, None, None), Poll(attempt=4), JobRef("job-1"))

    logged = json.loads(log_line(done, "req-1", 0.0))

    assert logged["decision"] == "done" and logged["status"] == "SUCCESS" and logged["attempt"] == 4
    assert (logged["error"], logged["message"], logged["http_status"], logged["retry_after"]) == (None,) * 4


@pytest.mark.parametrize("seconds, milliseconds", [(0.25, 250.0), (0.01234, 12.3), (2.0, 2000.0)])
def test_the_logged_latency_is_the_calls_time_in_milliseconds_to_a_tenth(seconds, milliseconds):
    # latency_ms: the call's seconds as milliseconds, kept to a tenth of one (what a log reader can use of it).
    # Catches: seconds divided instead of multiplied, a factor of 1001, or more decimals than a tenth.
    error = classify(Failure(FailureKind.TIMEOUT, "no answer"))
    retry = result(Verdict(False, Status.UNKNOWN, 3, error), Poll(attempt=1), JobRef("job-1"))

    assert json.loads(log_line(retry, None, seconds))["latency_ms"] == milliseconds


def next_poll_of(answer):
    """The query of a 202's Location, as a client that follows it sends it."""
    assert answer["statusCode"] == 202
    location = urlsplit(answer["headers"]["Location"])
    return location, dict(parse_qsl(location.query))


def test_location_carries_the_loop_state_to_the_next_poll_with_its_time_as_written(harness):
    # docs/events.md: the Location of a 202 is this request's path with the loop's state in its query string, the
    # start time as poll.started_at writes it ("?started_at=2026-11-28T08:00:00Z&attempt=3&..."): a ':' is allowed in
    # a query (RFC 3986, section 3.4). Catches: a Location without its query, or with the time's ':' escaped.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call(apig(path={"job_id": "job-1"}, method="POST"))

    result = http(answer)
    location, query = next_poll_of(answer)
    assert location.path == "/jobs/job-1"
    assert f"started_at={result['poll']['started_at']}" in location.query.split("&")
    assert query["attempt"] == "1" and query["errors"] == "0" and query["max_wait"] == str(result["poll"]["max_wait"])


def test_a_long_polls_location_keeps_its_wait_and_a_plain_polls_has_none(harness):
    # A client that follows the Location of a long poll (?wait=N) goes on long-polling: the URL keeps its wait; one
    # without a wait gets a Location without one. Catches: the wait dropped from the next poll, or a wait=0 (or
    # wait=None) added to every Location.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    plain = harness.call(apig(path={"job_id": "job-1"}, method="POST"))
    waiting = harness.call(apig(path={"job_id": "job-1"}, query={"wait": "0"}, method="POST"))
    long = harness.call(apig(path={"job_id": "job-1"}, query={"wait": "1"}, method="POST"))

    assert "wait" not in next_poll_of(plain)[1] and "wait" not in next_poll_of(waiting)[1]
    assert next_poll_of(long)[1]["wait"] == "1"
