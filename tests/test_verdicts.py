"""Every verdict of the contract, shown through HTTP against the loopback job API."""

import json
import time

import pytest
from helpers import AK, PROJECT, RUNNING_FOREVER, SECRETS, SK, TEMP_AK, TEMP_SK, TOKEN, agency, refusing_url
from jobstep.model import parse_time
from jobstep_tools.local import LocalContext
from jobstep_tools.simulator import Fault

CALLS = 50  # the most calls of a loop here (harness.loop): one that never ends fails instead of hanging


def test_success_ends_the_loop_with_the_job_as_reported(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0)

    answer = harness.call({"job_id": "job-1"})

    assert (answer["done"], answer["status"], answer["retry_after"], answer["error"]) == (True, "SUCCESS", None, None)
    assert answer["job_id"] == "job-1" and answer["project_id"] == PROJECT
    assert answer["job"]["status"] == "SUCCESS" and answer["job"]["job_type"] == "deleteELB"
    assert answer["job"]["entities"] == {"elb_id": "ea3e5715b68850a747ec41f335625c08"}


def test_fail_ends_the_loop_with_the_reason_the_api_gave(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0, outcome="FAIL", error_code="ELB.8905",
                              fail_reason="listener still has backends")

    answer = harness.call({"job_id": "job-1"})

    assert answer["done"] and answer["status"] == "FAIL" and answer["retry_after"] is None
    assert answer["job"]["error_code"] == "ELB.8905" and answer["job"]["fail_reason"] == "listener still has backends"
    assert answer["error"]["type"] == "job_failed" and not answer["error"]["retryable"]
    assert "ELB.8905" in answer["error"]["message"] and "listener still has backends" in answer["error"]["message"]


@pytest.mark.parametrize("timeline, status", [
    ({"init_seconds": 100}, "INIT"),
    (RUNNING_FOREVER, "RUNNING"),
    ({**RUNNING_FOREVER, "outcome": "PENDING_PAYMENT", "run_seconds": 0}, "PENDING_PAYMENT"),
])
def test_unfinished_and_unknown_statuses_ask_to_be_called_again(harness, timeline, status):
    harness.simulator.add_job("job-1", **timeline)

    answer = harness.call({"job_id": "job-1"})

    assert not answer["done"] and answer["status"] == status and answer["job"]["status"] == status
    assert isinstance(answer["retry_after"], int) and answer["retry_after"] >= 1
    assert answer["error"] is None


def test_the_answer_is_the_next_input_and_the_loop_reaches_success(harness):
    harness.simulator.add_job("job-1", init_seconds=3, run_seconds=20)

    answers = harness.loop({"job_id": "job-1"}, limit=CALLS)

    assert [a["poll"]["attempt"] for a in answers] == list(range(1, len(answers) + 1))
    assert {a["poll"]["started_at"] for a in answers} == {answers[0]["poll"]["started_at"]}
    assert [a["status"] for a in answers][0] == "INIT" and "RUNNING" in [a["status"] for a in answers]
    assert answers[-1]["status"] == "SUCCESS" and answers[-1]["done"]


def test_a_given_started_at_is_kept_and_counts_toward_max_wait(harness):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    submitted = "2026-09-21T12:00:00Z"  # two hours before the simulated now

    first = harness.call({"job_id": "job-1", "poll": {"started_at": submitted, "max_wait": 10**6}})

    assert first["poll"]["started_at"] == submitted and first["poll"]["max_wait"] == 10**6
    assert harness.call({"job_id": "job-1", "poll": {"started_at": submitted, "max_wait": 600}})["status"] == "TIMEOUT"


def test_a_done_result_fed_back_gives_the_same_verdict_without_a_query(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0, outcome="FAIL")
    finished = harness.call({"job_id": "job-1"})

    again = harness.call(finished)

    assert harness.requests == 1
    assert again == finished


@pytest.mark.parametrize("configure", [
    lambda harness, event: event.setdefault("poll", {}).update(max_wait=60),
    lambda harness, event: harness.environ.update(JOBSTEP_MAX_WAIT="60"),
])
def test_past_max_wait_the_loop_ends_with_timeout_and_the_last_snapshot(harness, configure):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    event = {"job_id": "job-1"}
    configure(harness, event)

    answers = harness.loop(event, limit=CALLS)

    last = answers[-1]
    assert last["done"] and last["status"] == "TIMEOUT" and last["retry_after"] is None
    assert last["job"]["status"] == "RUNNING" and last["error"]["type"] == "max_wait"
    assert "JOBSTEP_MAX_WAIT" in last["error"]["message"]
    elapsed = harness.clock() - parse_time(last["poll"]["started_at"]).timestamp()
    assert 60 <= elapsed < 61  # the last query lands at the deadline, not past it
    assert all(not a["done"] for a in answers[:-1])


def test_timeout_keeps_the_last_snapshot_when_the_last_query_fails(harness):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    first = harness.call({"job_id": "job-1", "poll": {"max_wait": 30}})
    harness.clock.advance(31)
    harness.simulator.inject(Fault(503))

    last = harness.call(first)

    assert last["status"] == "TIMEOUT" and last["job"]["status"] == "RUNNING"
    assert "503" in last["error"]["message"]


TRANSIENT = [
    (Fault(429, headers={"Retry-After": "30"}), "throttled", 429),
    (Fault(429), "throttled", 429),
    (Fault(500), "unavailable", 500),
    (Fault(502, b"<html>Bad Gateway</html>"), "unavailable", 502),
    (Fault(503, b'{"error_code": "APIGW.0201", "error_msg": "Service unavailable"}'), "unavailable", 503),
    (Fault(504), "unavailable", 504),
    (Fault(200, b"<html><body>maintenance</body></html>"), "bad_response", None),
    (Fault(200, b'{"job_id": "job-1"}'), "bad_response", None),
    (Fault(200, b'{"status": "RUNN'), "bad_response", None),
    (Fault(drop=True), "connection", None),
]


@pytest.mark.parametrize("fault, kind, http_status", TRANSIENT)
def test_transient_trouble_asks_again_and_the_loop_recovers(harness, fault, kind, http_status):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=30)
    first = harness.call({"job_id": "job-1"})
    harness.clock.advance(first["retry_after"])
    harness.simulator.inject(fault)

    answer = harness.call(first)

    assert not answer["done"] and answer["error"]["retryable"] and answer["error"]["type"] == kind
    assert answer["error"].get("http_status") == http_status
    assert answer["retry_after"] >= 1 and answer["status"] == "RUNNING"  # the last snapshot's status
    assert answer["poll"]["attempt"] == 2 and answer["poll"]["started_at"] == first["poll"]["started_at"]
    assert answer["poll"]["errors"] == 1
    rest = harness.loop(answer, limit=CALLS)
    assert rest[-1]["status"] == "SUCCESS" and rest[-1]["poll"]["errors"] == 0


@pytest.mark.parametrize("knobs, age, expected", [
    ({"JOBSTEP_MIN_DELAY": "7"}, 0, 7),
    ({"JOBSTEP_MAX_DELAY": "20"}, 3000, 20),
    ({"JOBSTEP_DELAY_GROWTH": "0.5"}, 100, 50),
])
def test_the_delay_knobs_come_from_the_environment(harness, knobs, age, expected):
    harness.simulator.add_job("job-1", created_at=harness.clock() - age, **RUNNING_FOREVER)
    harness.environ.update(knobs)
    harness.draws = lambda: 0.0  # no jitter

    answer = harness.call({"job_id": "job-1"})

    assert answer["retry_after"] == expected


def test_retry_after_from_the_api_is_honoured(harness):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    far = "Wed, 21 Oct 2099 07:28:00 GMT"
    harness.simulator.inject(Fault(429, headers={"Retry-After": "45"}), Fault(503, headers={"Retry-After": far}))

    assert harness.call({"job_id": "job-1"})["retry_after"] >= 45
    capped = harness.call({"job_id": "job-1", "poll": {"max_wait": 600}})
    assert capped["retry_after"] == 600  # a far date is cut at the deadline


def test_consecutive_errors_back_off(harness):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    harness.simulator.inject(*[Fault(503)] * 8)
    harness.draws = lambda: 0.999  # the top of the jitter range: the backoff's cap

    answers = harness.loop({"job_id": "job-1"}, limit=8)

    delays = [a["retry_after"] for a in answers]
    assert delays == sorted(delays) and delays[-1] > delays[0]
    assert [a["poll"]["errors"] for a in answers] == list(range(1, 9))


def test_an_unreachable_endpoint_is_transient(harness):
    harness.environ["JOBSTEP_ENDPOINT"] = refusing_url()

    answer = harness.call({"job_id": "job-1"})

    assert not answer["done"] and answer["error"]["type"] == "connection" and answer["error"]["retryable"]


def test_a_slow_answer_is_cut_at_the_functions_remaining_time(harness):
    harness.simulator.add_job("job-1")
    harness.simulator.inject(Fault(200, b"{}", delay=2.0))

    began = time.monotonic()
    answer = harness.call({"job_id": "job-1"}, agency(timeout=1.8))
    took = time.monotonic() - began

    assert took < 1.8  # answered before the function's own timeout
    assert not answer["done"] and answer["error"]["type"] == "timeout" and answer["error"]["retryable"]


def test_too_little_time_left_means_no_request(harness):
    harness.simulator.add_job("job-1")

    answer = harness.call({"job_id": "job-1"}, agency(timeout=1.2))

    assert harness.requests == 0 and not answer["done"] and answer["error"]["type"] == "timeout"


@pytest.mark.parametrize("status, kind", [(400, "bad_request"), (401, "unauthorized"), (403, "forbidden"),
                                          (405, "http_error"), (302, "http_error")])
def test_permanent_trouble_ends_the_loop_with_error(harness, status, kind):
    harness.simulator.add_job("job-1")
    harness.simulator.inject(Fault(status, b'{"error_code": "X.0001", "error_msg": "refused"}',
                                   headers={"Location": "http://127.0.0.2/"}))

    answer = harness.call({"job_id": "job-1"})

    assert answer["done"] and answer["status"] == "ERROR" and answer["retry_after"] is None
    assert answer["error"] == {"type": kind, "message": answer["error"]["message"], "retryable": False,
                               "http_status": status}
    assert harness.requests == 1  # and a redirect is not followed


def test_forbidden_says_which_permission_to_grant(harness):
    harness.environ["RUNTIME_PROJECT_ID"] = "another-project"

    answer = harness.call({"job_id": "job-1"})

    assert answer["error"]["type"] == "forbidden" and "agency" in answer["error"]["message"]


def test_a_job_not_visible_yet_is_waited_for_within_the_grace_period(harness):
    harness.simulator.add_job("job-1", visible_after=20, init_seconds=25, run_seconds=10)

    answers = harness.loop({"job_id": "job-1"}, limit=CALLS)

    assert answers[0]["error"]["type"] == "not_found" and answers[0]["error"]["retryable"]
    assert not answers[0]["done"] and answers[0]["error"]["http_status"] == 404
    assert answers[-1]["status"] == "SUCCESS"


@pytest.mark.parametrize("grace, gives_up_after", [(None, 60), ("10", 10)])
def test_a_job_still_missing_after_the_grace_period_is_an_error(harness, grace, gives_up_after):
    if grace:
        harness.environ["JOBSTEP_NOT_FOUND_GRACE"] = grace

    answers = harness.loop({"job_id": "job-0"}, limit=CALLS)

    last = answers[-1]
    assert last["done"] and last["status"] == "ERROR" and last["error"]["type"] == "not_found"
    assert not last["error"]["retryable"] and "job_id" in last["error"]["message"]
    elapsed = harness.clock() - parse_time(last["poll"]["started_at"]).timestamp()
    assert gives_up_after <= elapsed < gives_up_after + 15


def test_each_call_logs_one_json_line_and_no_secret_anywhere(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=5)
    harness.simulator.inject(Fault(401, json.dumps({"error_msg": f"echo {TEMP_AK} {TOKEN} {TEMP_SK}"}).encode()))
    answers = [harness.call({"job_id": "job-1"})]
    harness.simulator.add_job("job-2", init_seconds=0, run_seconds=5)
    answers += harness.loop({"job_id": "job-2"}, limit=CALLS)

    assert len(harness.logs) == len(answers)
    for line, answer in zip(harness.logs, answers):
        record = json.loads(line)
        assert record["request_id"] == "req-0001" and record["job_id"] == answer["job_id"]
        assert record["attempt"] == answer["poll"]["attempt"] and record["status"] == answer["status"]
        assert record["decision"] == ("done" if answer["done"] else "retry")
        assert isinstance(record["latency_ms"], float)
    shown = "\n".join(harness.logs) + json.dumps(answers)
    assert "Authorization" not in shown and "SDK-HMAC-SHA256" not in shown
    assert not [secret for secret in SECRETS if secret in shown]


@pytest.mark.parametrize("service, reported, status, done", [
    ("elb", "success", "SUCCESS", True), ("elb", " SUCCESS ", "SUCCESS", True), ("elb", "fail", "FAIL", True),
    ("elb", "\tFail", "FAIL", True), ("elb", "Running", "RUNNING", False), ("elb", " init", "INIT", False),
    ("elb", "Complete", "COMPLETE", False),  # classic ELB's word for success is SUCCESS only: COMPLETE runs on
    ("elbv3", "Complete\n", "SUCCESS", True), ("elbv3", "cancel", "FAIL", True),
])
def test_statuses_are_compared_trimmed_and_case_folded_and_kept_raw_in_job(harness, service, reported, status, done):
    body = {"status": reported, "job_id": "job-1"}
    harness.simulator.inject(Fault(200, json.dumps({"job": body} if service == "elbv3" else body).encode()))

    answer = harness.call({"job_id": "job-1", "service": service})

    assert (answer["status"], answer["done"], answer["job"]["status"]) == (status, done, reported)


def test_a_blank_status_is_not_a_job(harness):
    harness.simulator.inject(Fault(200, b'{"status": "  ", "job_id": "job-1"}'))

    answer = harness.call({"job_id": "job-1"})

    assert not answer["done"] and answer["error"]["type"] == "bad_response"


@pytest.mark.parametrize("pad", ["\n", "  ", "\r\n", "\t "])
def test_keys_with_surrounding_whitespace_still_sign(harness, pad):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0)
    harness.environ.update(HUAWEICLOUD_SDK_AK=AK + pad, HUAWEICLOUD_SDK_SK=pad + SK + pad)
    padded = LocalContext(TEMP_AK + pad, TEMP_SK + pad, pad + TOKEN + pad)

    from_variables = harness.call({"job_id": "job-1"}, LocalContext())
    from_agency = harness.call({"job_id": "job-1"}, padded)

    assert from_variables["status"] == from_agency["status"] == "SUCCESS"
    assert [seen.verdict for seen in harness.simulator.seen] == [None, None]


@pytest.mark.parametrize("environ, keys, named", [
    ({"HUAWEICLOUD_SDK_AK": AK[:10] + " " + AK[10:], "HUAWEICLOUD_SDK_SK": SK}, (), "HUAWEICLOUD_SDK_AK"),
    ({"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK[:5] + "\n" + SK[5:]}, (), "HUAWEICLOUD_SDK_SK"),
    ({}, (TEMP_AK, TEMP_SK, TOKEN[:4] + "\x00" + TOKEN[4:]), "security token"),
    ({}, (TEMP_AK, TEMP_SK + "é", TOKEN), "secret key"),
])
def test_a_key_with_whitespace_or_control_characters_inside_is_a_credentials_error(harness, environ, keys, named):
    harness.environ.update(environ)

    answer = harness.call({"job_id": "job-1"}, LocalContext(*keys))

    error = answer["error"]
    assert answer["done"] and error["type"] == "credentials" and not error["retryable"] and named in error["message"]
    assert harness.requests == 0
    assert not [secret for secret in SECRETS if secret[4:] in json.dumps(answer)]
