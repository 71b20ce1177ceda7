"""Event parsing: whatever arrives, the handler answers well-formed, and invalid input sends nothing."""

import base64
import json
from datetime import datetime, timezone

import pytest
from conftest import PROJECT, README, SECRETS, START, TEMP_AK, TEMP_SK, TOKEN, agency
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jobstep.client import new_session
from jobstep.config import Config, endpoint
from jobstep.model import format_time, parse_time, valid_region
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle
from jobstep_tools.local import Clock
from jobstep_tools.simulator import JobSimulator

RESULT_KEYS = {"job_id", "project_id", "region", "service", "done", "status", "retry_after", "job", "error", "poll",
               "progress"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
hostile_ids = st.sampled_from([
    "", "job/1", "../jobs", "..", "job%2F1", "job?x=1", "job#frag", "job\n1", "job 1", "jоb-1",  # Cyrillic o
    "job‐1", "１２３", "a" * 65, "job_1", "job.1", "job\\1", "job@host", "http://127.0.0.1:1/", "\x00",
]) | st.text(max_size=70)
contract_events = st.fixed_dictionaries(
    {},
    optional={
        "job_id": hostile_ids | json_values,
        "project_id": hostile_ids | json_values,
        "region": st.sampled_from(["ap-southeast-1", "evil.com", "ap-southeast-1.evil.com", "x/y", "127.0.0.1:80"])
        | json_values,
        "service": st.sampled_from(["elb", "ecs", "elbv3", "ELB", "elb.evil.com", "../", ""]) | json_values,
        "poll": st.fixed_dictionaries({}, optional={
            "attempt": json_values, "started_at": st.text(max_size=30) | json_values,
            "max_wait": json_values, "errors": json_values,
        }) | json_values,
        "done": json_values,
        "status": json_values,
        "job": json_values,
    },
)

payloads = contract_events | json_values  # what a trigger carries, as JSON text
texts = payloads.map(json.dumps) | st.text(max_size=40) | st.sampled_from(["", "[" * 5000, '{"job_id": '])
base64_bodies = texts.map(lambda text: base64.b64encode(text.encode()).decode())
parameters = st.dictionaries(st.sampled_from(["job_id", "project_id", "region", "service", "wait", "x"]),
                             hostile_ids | st.lists(hostile_ids, max_size=2) | json_values, max_size=4)
apig_events = st.fixed_dictionaries({
    "httpMethod": st.sampled_from(["GET", "POST"]),
    "path": st.text(max_size=20),
    "pathParameters": parameters | json_values,
    "queryStringParameters": parameters | json_values,
    "headers": st.dictionaries(st.sampled_from(["host", "x-forwarded-host", "x-project-id"]), st.text(max_size=30)),
    "requestContext": st.just({"apiId": "a", "requestId": "r", "stage": "RELEASE"}),
}, optional={"body": base64_bodies | texts | json_values, "isBase64Encoded": json_values})
timer_events = st.fixed_dictionaries({"trigger_type": st.just("TIMER")}, optional={"user_event": texts | json_values})
smn_events = st.fixed_dictionaries({"record": st.lists(st.fixed_dictionaries(
    {"smn": st.fixed_dictionaries({}, optional={"message": texts | json_values})}), max_size=2) | json_values})
kafka_events = st.fixed_dictionaries({"trigger_type": st.just("KAFKA"), "records": st.lists(st.fixed_dictionaries(
    {"messages": st.lists(texts | json_values, max_size=3) | json_values}), max_size=3) | json_values})


@pytest.fixture(scope="module")
def world():
    clock = Clock(START)
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock) as simulator:
        logs = []
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT}
        runtime = Runtime(session=new_session(), environ=environ, clock=clock, draw=lambda: 0.5, log=logs.append)
        yield simulator, runtime, logs


# The answer shape each source gets (the README's table): the result object, an API Gateway response around
# one, or a list of them for a Kafka batch.
RESULT, HTTP, BATCH = "result", "http", "batch"
# Keys that make an event look like a trigger's (the README's detection order); arbitrary values avoid them.
SOURCE_KEYS = {"job_id", "httpMethod", "trigger_type", "user_event", "record", "records"}


def results(answer, shape):
    """The result objects inside an answer, which must have the source's shape and no other.
    Catches: API Gateway answered with a plain result, a Kafka batch answered with one result."""
    if shape == BATCH:
        assert isinstance(answer, list)
        return answer
    assert isinstance(answer, dict)
    if shape == HTTP:
        assert set(answer) == {"statusCode", "headers", "body", "isBase64Encoded"}
        assert isinstance(answer["statusCode"], int) and isinstance(answer["body"], str)
        return [json.loads(answer["body"])]
    assert "statusCode" not in answer
    return [answer]


def check_answer(world, event, shape=RESULT):
    """Whatever the event, the handler answers (never raises), every result is well formed and secret-free,
    invalid input sends nothing, and anything sent went to a registered job path for a well-formed id."""
    simulator, runtime, logs = world
    before = len(simulator.seen)
    answer = handle(event, agency(), runtime)

    shown = json.dumps(answer) + "\n".join(logs[-20:])
    assert not [secret for secret in SECRETS if secret in shown]
    queried = []
    for result in results(answer, shape):
        assert set(result) == RESULT_KEYS and isinstance(result["done"], bool) and isinstance(result["status"], str)
        if result["error"] and result["error"]["type"] == "invalid_input":
            assert result["done"] and result["status"] == "ERROR" and result["error"]["message"]
        elif result["poll"]["attempt"]:
            queried.append(result)
    sent = simulator.seen[before:]
    assert len(sent) <= len(queried)  # nothing is sent for invalid input
    paths = {SERVICES[r["service"] or "elb"].path.format(project_id=r["project_id"] or PROJECT, job_id=r["job_id"])
             for r in queried if (r["service"] or "elb") in SERVICES}
    assert {seen.target for seen in sent} <= paths
    return answer


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=json_values.filter(lambda value: not (isinstance(value, dict) and value.keys() & SOURCE_KEYS)))
def test_any_json_value_gets_a_well_formed_answer(world, event):
    check_answer(world, event)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=contract_events)
def test_hostile_fields_get_a_well_formed_answer_and_no_stray_request(world, event):
    check_answer(world, event)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=apig_events)
def test_api_gateway_requests_with_arbitrary_payloads_get_an_http_response_and_no_stray_request(world, event):
    check_answer(world, event, HTTP)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=timer_events | smn_events)
def test_timer_and_smn_events_with_arbitrary_payloads_get_a_result_and_no_stray_request(world, event):
    check_answer(world, event)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=kafka_events)
def test_kafka_batches_with_arbitrary_payloads_get_a_list_and_no_stray_request(world, event):
    check_answer(world, event, BATCH)


@pytest.mark.parametrize("event, says", [
    ("not an object", "JSON object"),
    ([{"job_id": "job-1"}], "JSON object"),
    ({}, "job_id"),
    ({"job_id": 4010}, "job_id"),
    ({"job_id": "job/../../admin"}, "job_id"),
    ({"job_id": "job-1", "project_id": "p/../q"}, "project_id"),
    ({"job_id": "job-1", "region": "evil.example.com/"}, "region"),
    ({"job_id": "job-1", "poll": "again"}, "poll"),
    ({"job_id": "job-1", "poll": {"attempt": -1}}, "poll.attempt"),
    ({"job_id": "job-1", "poll": {"attempt": True}}, "poll.attempt"),
    ({"job_id": "job-1", "poll": {"started_at": "yesterday"}}, "poll.started_at"),
    ({"job_id": "job-1", "poll": {"started_at": "2999-01-01T00:00:00Z"}}, "future"),
    ({"job_id": "job-1", "poll": {"max_wait": 0}}, "poll.max_wait"),
    ({"job_id": "job-1", "done": True}, "status"),
    ({"job_id": "job-1", "service": "iam"}, "service"),
    ({"job_id": "job-1", "service": "elb.evil.com"}, "service"),
])
def test_invalid_input_says_what_to_fix_and_sends_nothing(world, event, says):
    answer = check_answer(world, event)

    assert answer["error"]["type"] == "invalid_input" and says in answer["error"]["message"]


@pytest.mark.parametrize("environ, says", [
    ({"JOBSTEP_MAX_WAIT": "soon"}, "JOBSTEP_MAX_WAIT"),
    ({"JOBSTEP_NOT_FOUND_GRACE": "-5"}, "JOBSTEP_NOT_FOUND_GRACE"),
    ({"JOBSTEP_REGION": "ap-southeast-1.evil.com"}, "JOBSTEP_REGION"),
    ({"JOBSTEP_SERVICE": "iam"}, "JOBSTEP_SERVICE"),
    ({"JOBSTEP_ENDPOINT": "http://elb.example.com"}, "https"),
    ({"JOBSTEP_ENDPOINT": "https://user:pw@elb.example.com"}, "JOBSTEP_ENDPOINT"),
    ({"JOBSTEP_ENDPOINT": "https://elb.example.com:port"}, "JOBSTEP_ENDPOINT"),
    ({"JOBSTEP_MIN_DELAY": "0"}, "JOBSTEP_MIN_DELAY"),
    ({"JOBSTEP_MIN_DELAY": "30", "JOBSTEP_MAX_DELAY": "10"}, "JOBSTEP_MAX_DELAY"),
    ({"JOBSTEP_MAX_DELAY": "7200"}, "JOBSTEP_MAX_DELAY"),
    ({"JOBSTEP_DELAY_GROWTH": "nan"}, "JOBSTEP_DELAY_GROWTH"),
    ({"JOBSTEP_DELAY_GROWTH": "2"}, "JOBSTEP_DELAY_GROWTH"),
])
def test_bad_configuration_is_an_error_that_names_the_variable(world, environ, says):
    simulator, runtime, logs = world
    before = len(simulator.seen)
    broken = Runtime(session=runtime.session, environ={**runtime.environ, **environ}, clock=runtime.clock,
                     log=logs.append)

    answer = handle({"job_id": "job-1"}, agency(), broken)

    assert answer["done"] and answer["error"]["type"] == "configuration" and says in answer["error"]["message"]
    assert len(simulator.seen) == before


@pytest.mark.parametrize("config, service, region, expected", [
    (Config(), "elb", "ap-southeast-1", "https://elb.ap-southeast-1.myhuaweicloud.com"),
    (Config(region="cn-north-4"), "ecs", "cn-north-4", "https://ecs.cn-north-4.myhuaweicloud.com"),
    (Config(), "elbv3", "eu-west-101", "https://elb.eu-west-101.myhuaweicloud.com"),
    (Config(endpoint="https://vpcep.example.com"), "vpc", "ap-southeast-1", "https://vpcep.example.com"),
    (Config(), "elb", None, None),
])
def test_the_endpoint_is_the_services_regional_host_unless_configured(config, service, region, expected):
    assert endpoint(config, SERVICES[service], region) == expected


def test_no_region_and_no_endpoint_is_a_configuration_error(world):
    simulator, runtime, logs = world
    bare = Runtime(session=runtime.session, environ={"RUNTIME_PROJECT_ID": PROJECT}, log=logs.append)

    answer = handle({"job_id": "job-1"}, None, bare)

    assert answer["error"]["type"] == "configuration" and "JOBSTEP_REGION" in answer["error"]["message"]


@pytest.mark.parametrize("text, expected", [
    ("2015-09-17T03:05:38.756Z", datetime(2015, 9, 17, 3, 5, 38, 756000, timezone.utc)),
    ("2015-09-17T03:05:38Z", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-09-17T11:05:38+08:00", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-09-17 03:05:38", datetime(2015, 9, 17, 3, 5, 38, tzinfo=timezone.utc)),
    ("2015-02-30T00:00:00Z", None),
    ("", None),
    (None, None),
    (17, None),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


# From year 1: a stateless call starts its loop at the job's begin_time, whatever year the job API says (strftime's %Y
# wrote year 1 as "1", which parse_time refused).
@given(st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31), timezones=st.just(timezone.utc)))
def test_started_at_survives_the_round_trip(moment):
    assert parse_time(format_time(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize("region, valid", [
    ("ap-southeast-1", True), ("cn-north-4", True), ("eu-west-101", True), ("la-south-2", True),
    ("AP-southeast-1", False), ("ap-southeast-1.", False), ("ap.southeast", False), ("ap-southeast-1\n", False),
])
def test_region_form(region, valid):
    assert valid_region(region) is valid


def shape(value):
    """The keys of a JSON value, all the way down (a list by its first item); leaves are None."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


def test_the_readmes_output_example_has_the_shape_of_a_real_answer(harness):
    # A classic ELB job with two sub-jobs, one ended, on its ninth call, as the README shows it.
    # Catches: a README example that drifts from the result (a field added or renamed in one place only).
    section = README[README.index("### Output"):]
    example = json.loads(section[section.index("```json") + 7:section.index("```", section.index("```json") + 7)])
    harness.simulator.add_job(example["job_id"], init_seconds=1, run_seconds=30,
                              script=lambda elapsed: {"sub_jobs": [
                                  {"job_id": "sub-1", "job_type": "deleteMember", "status": "SUCCESS"},
                                  {"job_id": "sub-2", "job_type": "deleteMember", "status": "RUNNING"}]})
    answer = harness.call({"job_id": example["job_id"]})
    harness.clock.advance(answer["retry_after"])
    answer = harness.call(answer)

    assert shape(answer) == shape(example)
