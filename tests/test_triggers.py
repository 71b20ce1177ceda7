"""Each event source FunctionGraph delivers, and the answer shape each one expects."""

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import PROJECT, RUNNING_FOREVER, TEMP_AK, agency, apig, http, kafka_event, sample_event
from jobstep.step import MIN_BUDGET_SECONDS, Runtime, handle
from jobstep_tools.simulator import Fault

FINISHED = {"init_seconds": 0, "run_seconds": 0}


def clocked(harness, remaining_ms=30_000):
    """An agency context whose remaining time runs down on the simulated clock."""
    return agency(timeout=remaining_ms / 1000, clock=harness.clock)


@pytest.mark.parametrize("event", [
    apig(path={"job_id": "job-1"}),
    apig(query={"job_id": "job-1"}),
    apig(body={"job_id": "job-1"}),
    apig(body={"job_id": "job-1"}, encode=False),
    apig(path={"job_id": "job-1"}, query={"project_id": PROJECT, "service": "elb"}),
])
def test_api_gateway_finds_the_job_in_path_query_or_body_and_answers_202_while_it_runs(harness, event):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call(event)

    result = http(answer)
    assert answer["statusCode"] == 202 and result["job_id"] == "job-1" and result["status"] == "RUNNING"
    assert answer["headers"]["Retry-After"] == str(result["retry_after"])
    assert harness.requests == 1


def test_api_gateway_answers_200_when_done_and_takes_the_result_back_as_a_body(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=5, outcome="FAIL")
    first = http(harness.call(apig(path={"job_id": "job-1"})))
    harness.clock.advance(10)

    answer = harness.call(apig(body=first))

    result = http(answer)
    assert answer["statusCode"] == 200 and "Retry-After" not in answer["headers"]
    assert result["status"] == "FAIL" and result["poll"]["attempt"] == 2
    assert result["poll"]["started_at"] == first["poll"]["started_at"]


@pytest.mark.parametrize("event, says", [
    (apig(), "name the job"),
    (apig(path={"job_id": "../elb"}), "job_id"),
    (apig(query={"job_id": ["a", "b"]}), "once"),
    (apig(path={"job_id": "job-1"}, query={"job_id": "job-2"}), "twice"),
    (apig(body="not json", encode=True), "not JSON"),
    (apig(body="[1, 2]", encode=True), "JSON object"),
    ({**apig(), "body": "%%% not base64", "isBase64Encoded": True}, "base64"),
    (apig(body={"job_id": "job-1"}, encode=False) | {"body": "[" * 100_000}, "not JSON"),
    (apig(body={"job_id": "job-1", "pad": "x" * 300_000}), "larger than"),
    (apig(query={"job_id": "job-1", "wait": "26"}), "wait"),
    (apig(query={"job_id": "job-1", "wait": "-1"}), "wait"),
    (apig(path={"job_id": "job-1"}, query={"service": "iam"}), "service"),
])
def test_api_gateway_answers_400_for_invalid_input_without_a_request(harness, event, says):
    answer = harness.call(event)

    result = http(answer)
    assert answer["statusCode"] == 400 and result["error"]["type"] == "invalid_input"
    assert says in result["error"]["message"] and harness.requests == 0


# The console's API Gateway test event, apig-event-template, as the Go runtime's developer guide prints it
# (otc-functiongraph-go-runtime devguide/event_function/trigger_events/trigger_apig_event): a plain JSON body marked
# isBase64Encoded true. Its body here names the job.
CONSOLE_TEST_EVENT = sample_event("apig-console-test", body=json.dumps({"job_id": "job-1"}))
WRAPPED = base64.encodebytes(json.dumps({"job_id": "job-1", "note": "x" * 200}).encode()).decode()  # MIME: 76 a line


WRAPPED_EVENT = {**apig(method="POST"), "body": WRAPPED, "isBase64Encoded": True}


@pytest.mark.parametrize("event", [CONSOLE_TEST_EVENT, WRAPPED_EVENT], ids=["console test event", "base64 in lines"])
def test_a_body_marked_base64_is_read_as_the_console_and_mime_write_it(harness, event):
    # Catches: the console's own test event refused as "not base64", or a decoder that takes one line only.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call(event)

    assert answer["statusCode"] == 202 and http(answer)["job_id"] == "job-1" and harness.requests == 1


@pytest.mark.parametrize("path", ["//evil.example/jobs/job-1", "jobs/job-1"])
def test_a_path_that_does_not_start_with_one_slash_is_refused(harness, path):
    # Catches: "//evil.example/..." written into Location, which without a usable Host is another host's URL.
    event = {**apig(path={"job_id": "job-1"}), "path": path, "headers": {}}

    answer = harness.call(event)

    assert answer["statusCode"] == 400 and "path" in http(answer)["error"]["message"]
    assert "Location" not in answer["headers"] and harness.requests == 0


SLOW_ANSWER = 0.6  # seconds the job API takes to answer, in the test below


@pytest.mark.slow
def test_a_long_poll_answers_within_its_wait_however_slow_the_job_api(harness):
    # The call's time is the real time of its queries and the simulated time of its sleeps, for the context's
    # remaining time and the runtime's clock alike. Catches: a wait counted from the end of the first query, or
    # queries not cut to what is left of it (?wait=25 against a job API that took 7 s an answer took 34 s; here,
    # 3.8 s of a wait of 3).
    wait = 3
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    running = json.dumps({"status": "RUNNING", "job_id": "job-1"}).encode()
    harness.simulator.inject(*[Fault(200, running, delay=SLOW_ANSWER)] * 10)
    began = time.monotonic()

    def now() -> float:
        return harness.clock() + time.monotonic() - began

    context = agency(timeout=60, clock=now)
    runtime = Runtime(session=harness.session, environ=harness.environ, clock=now, sleep=harness.sleep,
                      log=lambda line: None)
    start = now()
    answer = handle(apig(path={"job_id": "job-1"}, query={"wait": str(wait)}, method="POST"), context, runtime)

    assert answer["statusCode"] in (202, 503) and now() - start <= wait + 0.5
    assert harness.slept and http(answer)["poll"]["attempt"] >= 2  # it did poll inside the call


def test_api_gateway_answers_404_only_after_the_grace_period_of_a_wait_started_with_post(harness):
    within = harness.call(apig(path={"job_id": "job-0"}, method="POST"))
    assert within["statusCode"] == 202 and http(within)["error"]["type"] == "not_found"
    harness.clock.advance(61)

    after = harness.call(apig(body=http(within)))

    assert after["statusCode"] == 404 and http(after)["error"]["type"] == "not_found"


def test_a_get_without_loop_state_answers_404_at_once_and_says_how_to_wait(harness):
    answer = harness.call(apig(path={"job_id": "job-0"}))

    error = http(answer)["error"]
    assert answer["statusCode"] == 404 and error["type"] == "not_found" and not error["retryable"]
    assert "poll.started_at" in error["message"] and "POST" in error["message"]


@pytest.mark.parametrize("refuse, kind", [
    (lambda harness: harness.simulator.keys.pop(TEMP_AK), "unauthorized"),  # the agency's keys are unknown: 401
    (lambda harness: harness.environ.update(RUNTIME_PROJECT_ID="another-project"), "forbidden"),  # 403
    (lambda harness: setattr(harness.simulator, "clock", lambda: harness.clock() + 3600), "clock_skew"),  # 401
])
def test_api_gateway_answers_502_when_the_job_api_refuses_the_functions_credentials(harness, refuse, kind):
    # Catches: a 401 that is not told apart from a clock skew, or a 403 taken for a 401.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    refuse(harness)

    answer = harness.call(apig(path={"job_id": "job-1"}))

    assert answer["statusCode"] == 502 and http(answer)["error"]["type"] == kind


@pytest.mark.parametrize("fault", [Fault(503), Fault(429, headers={"Retry-After": "7"}), Fault(drop=True)])
def test_api_gateway_answers_503_with_retry_after_for_transient_trouble(harness, fault):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    harness.simulator.inject(fault)

    answer = harness.call(apig(path={"job_id": "job-1"}))

    result = http(answer)
    assert answer["statusCode"] == 503 and result["error"]["retryable"]
    assert int(answer["headers"]["Retry-After"]) == result["retry_after"] >= int(fault.headers.get("Retry-After", 1))


def test_api_gateway_answers_500_when_the_function_is_not_configured(harness):
    del harness.environ["RUNTIME_PROJECT_ID"]

    answer = harness.call(apig(path={"job_id": "job-1"}))

    assert answer["statusCode"] == 500 and http(answer)["error"]["type"] == "configuration"


def test_long_poll_keeps_asking_inside_the_call_until_done(harness):
    harness.simulator.add_job("job-1", init_seconds=2, run_seconds=6)

    answer = harness.call(apig(path={"job_id": "job-1"}, query={"wait": "25"}), clocked(harness))

    result = http(answer)
    assert answer["statusCode"] == 200 and result["status"] == "SUCCESS"
    assert harness.requests == result["poll"]["attempt"] == len(harness.slept) + 1 > 2
    assert sum(harness.slept) <= 25
    assert len(harness.logs) == harness.requests  # each query logged, as a loop's calls would be


@pytest.mark.parametrize("wait, remaining_ms", [(5, 30_000), (25, 9_000), (0, 30_000)])
def test_long_poll_stops_at_wait_or_before_the_remaining_time(harness, wait, remaining_ms):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    context = clocked(harness, remaining_ms)

    answer = harness.call(apig(path={"job_id": "job-1"}, query={"wait": str(wait)}), context)

    # Each query inside the wait is given at least MIN_BUDGET_SECONDS of it. Catches: a sleep that leaves the last
    # query no time (it would answer a timeout), or a long poll that stops while a sleep and a query still fit.
    assert answer["statusCode"] == 202 and sum(harness.slept) <= max(wait - MIN_BUDGET_SECONDS, 0)
    assert context.getRemainingTimeInMilliSeconds() > 1_000  # time left to answer
    result = http(answer)
    assert harness.requests == result["poll"]["attempt"]
    assert sum(harness.slept) + result["retry_after"] > min(wait - MIN_BUDGET_SECONDS, remaining_ms / 1000 - 1.5)


def test_timer_trigger_carries_the_job_in_user_event(harness):
    harness.simulator.add_job("job-1", **FINISHED)
    event = sample_event("timer", user_event=json.dumps({"job_id": "job-1", "project_id": PROJECT}))

    answer = harness.call(event)

    assert answer["job_id"] == "job-1" and answer["status"] == "SUCCESS" and answer["done"]


def test_smn_trigger_carries_the_job_in_the_first_records_message(harness):
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    event = sample_event("smn")
    event["record"][0]["smn"]["message"] = json.dumps({"job_id": "job-1"})

    answer = harness.call(event)

    assert answer["job_id"] == "job-1" and answer["status"] == "RUNNING" and not answer["done"]


def test_kafka_trigger_answers_one_result_per_message_in_order(harness):
    harness.simulator.add_job("job-1", **FINISHED)
    harness.simulator.add_job("job-2", **RUNNING_FOREVER)
    event = kafka_event([json.dumps({"job_id": "job-1"}), "not json"], [json.dumps({"job_id": "job-2"})])

    answers = harness.call(event)

    assert [a["status"] for a in answers] == ["SUCCESS", "ERROR", "RUNNING"]
    assert answers[1]["error"]["type"] == "invalid_input" and "not JSON" in answers[1]["error"]["message"]
    assert harness.requests == 2


def cts_trace(service_type: str, response: Any, **fields: Any) -> dict[str, Any]:
    """FunctionGraph's documented CTS event around a trace of `service_type` whose response is `response`."""
    event = sample_event("cts")
    event["cts"].update(service_type=service_type, trace_name="createServer", resource_type="ecs", code=200,
                        response=response)
    event["cts"].update(fields)
    return event


@pytest.mark.parametrize("response", [
    {"job_id": "job-1", "job_type": "createServer", "status": "RUNNING"},  # the older example trace: an object
    json.dumps({"job_id": "job-1", "serverIds": ["fe0528f0-5b1c-4c8c-9adf-e5d5047b8c17"]}),  # the newer: JSON text
], ids=["object", "JSON text"])
def test_a_cts_trace_of_a_job_starting_operation_is_answered_for_its_job(harness, response):
    # A job that began two hours ago and still runs. Catches: a CTS event refused as having no job_id, a string
    # response left unread, the service taken from the configuration rather than the trace (the simulator answers
    # the ecs job at ECS's path only), or a trace read as the start of a loop: like a timer's tick, its deadline
    # counts from the job's own begin_time, so the job is past max_wait (3600 s), not RUNNING.
    harness.simulator.add_job("job-1", service="ecs", created_at=harness.clock() - 7200, **RUNNING_FOREVER)
    harness.environ["JOBSTEP_SERVICE"] = "rds"

    answer = harness.call(cts_trace("ECS", response))

    assert (answer["job_id"], answer["service"], answer["status"]) == ("job-1", "ecs", "TIMEOUT")
    assert answer["error"]["type"] == "max_wait" and harness.requests == 1


def test_a_cts_trace_names_the_project_of_its_job(harness):
    # CTS's newer traces carry project_id. Catches: the function's own project used for a trace of another one.
    harness.simulator.add_job("job-1", service="ecs", **FINISHED)
    harness.environ["RUNTIME_PROJECT_ID"] = "0" * 32

    answer = harness.call(cts_trace("ECS", {"job_id": "job-1"}, project_id=PROJECT))

    assert answer["status"] == "SUCCESS" and answer["project_id"] == PROJECT


@pytest.mark.parametrize("event, says", [
    (sample_event("cts"), "the CTS trace 'deleteGraph' of 'FunctionGraph' names no job_id in its response (code"
     " 204): subscribe the CTS trigger to the operations that start a job"),
    (cts_trace("ECS", {"error": {"code": "Ecs.0005", "message": "request body is illegal."}}, code=400),
     "(code 400)"),
    (cts_trace("ECS", "{not json"), "names no job_id"),
    (cts_trace("OBS", {"job_id": "job-1"}), "got 'obs'"),
    (cts_trace("", {"job_id": "job-1"}), "has no service_type"),
    (cts_trace("ECS", {"job_id": "job/1"}), "job_id must be 1-64 letters"),
    ({"cts": "a trace"}, "holds its trace as an object in cts"),
])
def test_a_cts_trace_without_a_job_of_a_known_api_is_invalid_input_saying_why(harness, event, says):
    # Catches: a trace without a job (the trigger subscribed to an operation that starts none, or that failed)
    # queried or answered as an internal error, or a service jobstep does not know queried as another.
    answer = harness.call(event)

    assert answer["done"] and answer["error"]["type"] == "invalid_input" and says in answer["error"]["message"]
    assert harness.requests == 0


@pytest.mark.parametrize("event, says", [
    ({"trigger_type": "TIMER", "user_event": ""}, "empty"),
    ({"trigger_type": "TIMER", "user_event": "{job_id: 1}"}, "not JSON"),
    ({"record": [{"smn": {"message": "hello"}}]}, "not JSON"),
    ({"record": []}, "empty"),
    ({"jobId": "job-1"}, "has no job_id"),
    ({"Records": [{"s3": {}}]}, "has no job_id"),
    ("job-1", "must be a JSON object"),
])
def test_unreadable_or_unknown_events_are_invalid_input_naming_the_sources_understood(harness, event, says):
    answer = harness.call(event)

    assert answer["done"] and answer["error"]["type"] == "invalid_input" and says in answer["error"]["message"]
    if says in ("has no job_id", "must be a JSON object"):
        for source in ("API Gateway", "timer", "SMN", "Kafka", "CTS"):
            assert source in answer["error"]["message"]
    assert harness.requests == 0


def test_sources_other_than_api_gateway_answer_the_plain_result(harness):
    harness.simulator.add_job("job-1", **FINISHED)

    direct = harness.call({"job_id": "job-1"})
    timer = harness.call(sample_event("timer", user_event=json.dumps({"job_id": "job-1"})))

    assert set(direct) == set(timer) and "statusCode" not in direct


TICK = 60  # docs/deploy.md's timer: fixed rate, 1 minute
DEPLOY_DOC = (Path(__file__).resolve().parent.parent / "docs" / "deploy.md").read_text()


def readme_timer_event() -> str:
    """The additional information of docs/deploy.md's timer example, as the user copies it."""
    section = DEPLOY_DOC[DEPLOY_DOC.index("**Timer trigger**"):]
    return re.search(r"```json\n\s*(\{.*?\})\n", section).group(1)


def ticks(harness, limit: int) -> list:
    """The timer's invocations, a minute apart, each with the same event; until `limit` ticks."""
    event = sample_event("timer", user_event=readme_timer_event())
    answers = []
    for _ in range(limit):
        answers.append(harness.call(event))
        harness.clock.advance(TICK)
    return answers


@pytest.mark.parametrize("timeline, status, error", [
    ({"init_seconds": 30, "run_seconds": 300}, "SUCCESS", None),
    ({"init_seconds": 0, "run_seconds": 300, "outcome": "FAIL"}, "FAIL", "job_failed"),
    (RUNNING_FOREVER, "TIMEOUT", "max_wait"),
    (None, "ERROR", "not_found"),
])
def test_the_readme_timer_example_ends(harness, timeline, status, error):
    # Catches: a stateless tick that counts its deadline from itself (TIMEOUT never comes) or waits for a
    # 404 (a missing job is "retry" on every tick, forever).
    job_id = json.loads(readme_timer_event())["job_id"]
    if timeline:
        harness.simulator.add_job(job_id, **timeline)

    answers = ticks(harness, limit=70)  # 70 minutes: past the default max_wait of an hour

    first_done = next(index for index, answer in enumerate(answers) if answer["done"])
    assert all(answer["done"] and answer["status"] == status for answer in answers[first_done:])
    assert (answers[first_done]["error"] or {}).get("type") == error
    assert [json.loads(line)["decision"] for line in harness.logs][first_done:] == ["done"] * (70 - first_done)
    if status == "TIMEOUT":
        assert first_done * TICK >= 3600 > (first_done - 1) * TICK


def broken_clock() -> float:
    raise RuntimeError("the clock broke")


@pytest.mark.parametrize("event, shape", [
    (apig(path={"job_id": "job-1"}), "http"),
    (kafka_event([json.dumps({"job_id": "job-1"})] * 2), "batch"),
    (sample_event("timer", user_event=json.dumps({"job_id": "job-1"})), "result"),
    ({"job_id": "job-1"}, "result"),
])
def test_a_failure_outside_any_job_still_answers_in_the_sources_shape(harness, event, shape):
    # Catches: a catch-all that answers a bare result to API Gateway (the gateway would answer 502) or to Kafka.
    runtime = Runtime(session=harness.session, environ=harness.environ, clock=broken_clock, log=harness.logs.append)

    answer = handle(event, agency(), runtime)

    if shape == "http":
        assert answer["statusCode"] == 500 and set(answer) == {"statusCode", "headers", "body", "isBase64Encoded"}
        results = [http(answer)]
    else:
        results = answer if shape == "batch" else [answer]
        assert isinstance(answer, list) == (shape == "batch") and "statusCode" not in results[0]
    assert all(result["error"]["type"] == "internal" and result["done"] for result in results)
    assert "RuntimeError" in results[0]["error"]["message"] and harness.requests == 0


@pytest.mark.parametrize("error", ["boom", {"type": "boom", "message": "x", "retryable": False}, {"type": "max_wait"}])
def test_a_finished_result_with_an_error_jobstep_never_gives_is_invalid_input(harness, error):
    # Catches: a fed-back result taken on trust (its error once crashed the HTTP status and answered a bare dict).
    finished = {"job_id": "job-1", "done": True, "status": "FAIL", "error": error, "poll": {"attempt": 3}}

    answer = harness.call(apig(body=finished))

    assert answer["statusCode"] == 400 and http(answer)["error"]["type"] == "invalid_input"
    assert "error" in http(answer)["error"]["message"] and harness.requests == 0


def test_a_null_body_field_gives_way_to_the_same_query_parameter(harness):
    # Catches: a null in the body taken for a value that conflicts with the query's (it was a 400 "given twice").
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call(apig(query={"project_id": PROJECT}, body={"job_id": "job-1", "project_id": None}))

    assert answer["statusCode"] == 202 and http(answer)["project_id"] == PROJECT
