"""Event parsing: whatever arrives, the handler answers well-formed, and invalid input sends nothing."""

import base64
import json

import pytest
from helpers import PROJECT, README, SECRETS, agency
from hypothesis import given, settings
from hypothesis import strategies as st
from jobstep.services import SERVICES
from jobstep.step import handle

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


# Each kind of event, its answer's shape and how many examples: one property, check_answer, over each.
@pytest.mark.parametrize("events, shape, examples", [
    pytest.param(json_values.filter(lambda value: not (isinstance(value, dict) and value.keys() & SOURCE_KEYS)),
                 RESULT, 300, id="any JSON value gets a well-formed answer"),
    pytest.param(contract_events, RESULT, 400, marks=pytest.mark.slow,
                 id="hostile fields get a well-formed answer and no stray request"),
    pytest.param(apig_events, HTTP, 100,
                 id="API Gateway requests with arbitrary payloads get an HTTP response and no stray request"),
    pytest.param(timer_events | smn_events, RESULT, 100,
                 id="timer and SMN events with arbitrary payloads get a result and no stray request"),
    pytest.param(kafka_events, BATCH, 100, id="Kafka batches with arbitrary payloads get a list and no stray request"),
])
def test_arbitrary_events_get_a_well_formed_answer_of_their_sources_shape(world, events, shape, examples):
    @settings(max_examples=examples, deadline=None)
    @given(event=events)
    def answers(event):
        check_answer(world, event, shape)

    answers()


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
