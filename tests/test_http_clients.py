"""Plain HTTP clients through API Gateway: one that follows only `Location` and `Retry-After` (RFC 9110 §10.2.2
and §10.2.3, the asynchronous request-reply pattern) reaches every verdict a flow reaches, and one that repeats
the same request without any state still gets an answer that ends.

Everything crosses real HTTP: the client talks to the API Gateway stand-in (tests/gateway.py), which invokes
the handler with the documented event; the handler queries the loopback job API. Sleeps advance the
simulated clock that the handler and the job API share.
"""

from typing import Any, NamedTuple, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from gateway import ApiGateway
from helpers import PROJECT, RUNNING_FOREVER
from jobstep.model import parse_time
from jobstep_tools.simulator import Fault

MAX_REQUESTS = 200


class Reply(NamedTuple):
    status: int
    headers: Any
    body: dict[str, Any]
    url: str


@pytest.fixture
def gateway(harness):
    with ApiGateway(harness.call, ("/jobs/{job_id}", "/jobs")) as stand_in:
        yield stand_in


def follow(url: str, harness, method: str = "GET", body: Optional[dict] = None) -> list[Reply]:
    """The client: while the answer is 202 or 503, sleep Retry-After and GET Location. It reads no body."""
    with requests.Session() as session:
        response = session.request(method, url, json=body, allow_redirects=False, timeout=10)
        replies = [Reply(response.status_code, response.headers, response.json(), url)]
        while response.status_code in (202, 503) and len(replies) < MAX_REQUESTS:
            harness.clock.advance(int(response.headers["Retry-After"]))
            url = response.headers["Location"]
            response = session.get(url, allow_redirects=False, timeout=10)
            replies.append(Reply(response.status_code, response.headers, response.json(), url))
    return replies


def seconds_since_start(harness, replies: list[Reply]) -> float:
    return harness.clock() - parse_time(replies[-1].body["poll"]["started_at"]).timestamp()


def test_a_client_that_follows_location_reaches_200_when_the_job_ends(harness, gateway):
    # Catches: a Location that is relative or https:// here (the client cannot follow it), or that drops the
    # loop's state (poll.attempt then restarts at 1 on every call).
    harness.simulator.add_job("job-1", init_seconds=5, run_seconds=100)

    replies = follow(f"{gateway.origin}/jobs/job-1", harness)

    assert [r.status for r in replies[:-1]] == [202] * (len(replies) - 1) and len(replies) > 3
    assert replies[-1].status == 200 and replies[-1].body["status"] == "SUCCESS"
    assert [r.body["poll"]["attempt"] for r in replies] == list(range(1, len(replies) + 1))
    for reply in replies[1:]:
        assert urlsplit(reply.url)[:3] == ("http", gateway.origin[len("http://"):], "/jobs/job-1")
    assert harness.requests == len(replies)


def test_a_wait_started_with_post_reaches_404_after_the_grace_period(harness, gateway):
    # Catches: a Location without started_at (the grace would start again on every call: 202 forever).
    replies = follow(f"{gateway.origin}/jobs/job-0", harness, method="POST")

    assert replies[-1].status == 404 and replies[-1].body["error"]["type"] == "not_found"
    assert {r.status for r in replies[:-1]} == {202} and len(replies) > 2
    assert 60 <= seconds_since_start(harness, replies) < 75


def test_a_client_that_follows_location_reaches_timeout_at_max_wait(harness, gateway):
    # Catches: a Location without max_wait (the default 3600 s would apply) or without started_at.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    replies = follow(f"{gateway.origin}/jobs/job-1?max_wait=300", harness, method="POST")

    assert replies[-1].status == 200 and replies[-1].body["status"] == "TIMEOUT"
    assert replies[-1].body["error"]["type"] == "max_wait"
    assert 300 <= seconds_since_start(harness, replies) < 301


def test_a_client_that_follows_location_backs_off_during_an_outage(harness, gateway):
    # Catches: a Location without errors (every 503 would then be the first one, 2 s apart).
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=10**4)
    harness.simulator.inject(*[Fault(503)] * 6)
    harness.draws = lambda: 0.999  # the top of the jitter range: the backoff's cap

    replies = follow(f"{gateway.origin}/jobs/job-1?max_wait=600", harness)

    outage = [int(r.headers["Retry-After"]) for r in replies if r.status == 503]
    assert outage == [2, 4, 8, 16, 32, 60]
    assert replies[-1].status == 200 and replies[-1].body["status"] == "TIMEOUT"


def test_a_wait_started_by_posting_a_body_carries_the_bodys_job_fields_in_location(harness, gateway):
    # Catches: a Location that forgets the job fields the path does not hold (job_id, project_id).
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=30)

    replies = follow(f"{gateway.origin}/jobs", harness, method="POST", body={"job_id": "job-1", "project_id": PROJECT})

    query = parse_qs(urlsplit(replies[1].url).query)
    assert query["job_id"] == ["job-1"] and query["project_id"] == [PROJECT]
    assert replies[-1].status == 200 and replies[-1].body["status"] == "SUCCESS"


def test_a_client_that_repeats_a_get_without_state_gets_404_for_a_missing_job(harness, gateway):
    # Catches: a stateless GET that waits for a missing job (202 forever for a wrong or deleted job_id).
    url = f"{gateway.origin}/jobs/job-0"

    answers = [requests.get(url, timeout=10) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [404] * 3
    assert "Retry-After" not in answers[0].headers and "Location" not in answers[0].headers


def test_a_client_that_repeats_a_get_without_state_gets_timeout_from_the_jobs_begin_time(harness, gateway):
    # Catches: a stateless GET whose deadline counts from each call (a job that never ends: 202 forever).
    harness.simulator.add_job("job-1", created_at=harness.clock() - 7200, **RUNNING_FOREVER)

    answer = requests.get(f"{gateway.origin}/jobs/job-1", timeout=10)

    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "TIMEOUT" and body["job"]["status"] == "RUNNING"
    assert body["poll"]["started_at"] == body["job"]["begin_time"][:19] + "Z"


@pytest.mark.parametrize("query, says", [
    ("started_at=2999-01-01T00:00:00Z", "future"),
    ("started_at=yesterday", "started_at"),
    ("attempt=-1", "attempt"),
    ("attempt=1e9", "attempt"),
    ("errors=%20", "errors"),
    ("max_wait=0", "max_wait"),
    ("max_wait=99999999999", "max_wait"),
    ("attempt=1&attempt=2", "once"),
])
def test_the_state_in_a_location_is_validated_like_any_input(harness, gateway, query, says):
    answer = requests.get(f"{gateway.origin}/jobs/job-1?{query}", timeout=10)

    error = answer.json()["error"]
    assert answer.status_code == 400 and error["type"] == "invalid_input" and says in error["message"]
    assert harness.requests == 0


def test_the_state_of_a_body_and_of_the_query_must_agree(harness, gateway):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    body = {"job_id": "job-1", "poll": {"attempt": 3}}

    answer = requests.post(f"{gateway.origin}/jobs/job-1?attempt=4", json=body, timeout=10)

    assert answer.status_code == 400 and "twice" in answer.json()["error"]["message"]


def test_a_request_without_a_usable_host_gets_a_relative_location(harness):
    # RFC 9110 §10.2.2 allows a relative reference; a Host header that is not a host name is not echoed.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    event = {"httpMethod": "GET", "path": "/jobs/job-1", "pathParameters": {"job_id": "job-1"},
             "queryStringParameters": {}, "headers": {"host": "evil.example.com/\r\nSet-Cookie: x=1"},
             "body": "", "isBase64Encoded": False}

    answer = harness.call(event)

    assert answer["statusCode"] == 202 and answer["headers"]["Location"].startswith("/jobs/job-1?")
