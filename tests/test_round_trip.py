"""Every answer is a valid next input: whatever the job API sent, however the caller's clock is set and however long
the loop has run, the answer jobstep writes is accepted by the next call through every channel that carries it.

The channels, each as the system that carries the answer does it:
- direct: a flow node or an orchestrator feeds the result back, as strict JSON (RFC 8259 has no NaN);
- body: an API Gateway client posts the response body back, through the API Gateway stand-in (tests/gateway.py);
- location: a client that follows only HTTP headers GETs the `Location` of a 202 or 503 (RFC 9110 §10.2.2);
- resume: `jobstep poll --resume` reads the result the CLI printed, and prints a progress line per answer;
- kafka: the result goes back as the JSON text of a DMS for Kafka message.

The job API here answers over real HTTP on loopback, the same reply to every query of an example: any job status,
progress values of every JSON type and magnitude, entities and sub-jobs with NaN and infinities, sub-job lists up
to the 1 MiB body cap, HTTP statuses and Retry-After headers of every size. The caller's loop state is at its
limits: a clock up to 5 minutes ahead or behind, counters at their maximum, a loop begun years ago.

Catches (each an @example below, each failed before the fix): a loop started in the future by a fast clock
(poll.progress.at -119.3, refused); attempt or errors of 10**9 (10**9 + 1, refused); a finished loop of a job begun
more than 31 days ago (progress.at above the limit, refused); a progress value of 10**400 or 1e-310, or a
Retry-After of 400 digits (an OverflowError answered as internal); 1e-300 (a 305-digit eta_seconds); NaN in the
job's entities (not strict JSON); 990 KB of sub-job objects (an answer of 37.6 MB) and 600 ECS sub-jobs (an answer
over 256 KiB, which the body channel then refuses).
"""

import json
import math
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Optional
from urllib.parse import urlsplit

import pytest
import requests
from gateway import ApiGateway
from helpers import PROJECT, RUNNING_FOREVER, START, TEMP_AK, TEMP_SK, TOKEN, agency, kafka_event
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jobstep.client import MAX_BODY, new_session
from jobstep.model import (
    MAX_ANSWER_CHARS,
    MAX_COUNT,
    MAX_ENTITIES_CHARS,
    MAX_JOBS,
    MAX_SUB_JOBS,
    MAX_WAIT_LIMIT,
    Error,
    ErrorType,
    Job,
    JobRef,
    Poll,
    Progress,
    Result,
    Track,
    format_time,
)
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle
from jobstep_tools import cli
from jobstep_tools.local import Clock
from jobstep_tools.simulator import Fault, JobSimulator, SimJob

JOB = "4010b39b4fd3d5ff014fd943bac41619"
NOW = datetime.fromtimestamp(START, timezone.utc)
CHANNELS = ("direct", "body", "location", "resume", "kafka")
# Numbers jobstep writes itself, in its own fields: whole ones a JavaScript client reads exactly.
SAFE_INTEGER = 2**53


class Reply(NamedTuple):
    """What the job API answers every query of an example: an HTTP status, a Retry-After, and a job whose
    normalised fields (`fields`) are placed where its service's registry entry reads them."""

    service: str
    fields: dict[str, Any]
    http_status: int = 200
    retry_after: Optional[str] = None

    def body(self) -> bytes:
        api = SERVICES[self.service]
        # Begun 10 minutes ago unless the fields say otherwise: a job with an age (from which a pace is read).
        job = SimJob(JOB, START - 600, service=self.service, entities=None, script=lambda elapsed: self.fields)
        return json.dumps(job.body(START, api)).encode()  # NaN and infinities written as Python writes them


class Caller(NamedTuple):
    """The loop state of the first call: its start by the caller's clock, and its counters."""

    started: float = 0.0  # seconds from now; positive: a clock that runs ahead
    attempt: int = 0
    errors: int = 0
    max_wait: Optional[int] = None
    track: Optional[tuple[float, float]] = None  # poll.progress: (fraction, at)

    def event(self, service: str) -> dict[str, Any]:
        poll: dict[str, Any] = {"started_at": format_time(NOW + timedelta(seconds=self.started)),
                                "attempt": self.attempt, "errors": self.errors, "max_wait": self.max_wait}
        if self.track:
            poll["progress"] = {"fraction": self.track[0], "at": self.track[1]}
        return {"job_id": JOB, "service": service, "poll": poll}


# --- the job API's side
nasty_numbers = st.sampled_from([
    0, 1, 0.5, 0.9999, 60, "60%", " 37 % ", 100, 150, -1, 10**400, -10**400, 1e308, -1e308, 1e-300, 1e-310, 5e-324,
    math.nan, math.inf, -math.inf, "1e400", "nan", "inf", "", True, None, [50], {"value": 50},
]) | st.floats() | st.integers()
json_trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)
statuses = st.sampled_from([
    "SUCCESS", " success ", "FAIL", "RUNNING", "INIT", "PENDING_PAYMENT", "Completed", "Running", "Failed", "COMPLETE",
    "", " ", "ß" * 64, "\u0000", math.nan, 2, -1, None,
]) | st.text(max_size=70)
texts = st.none() | st.text(max_size=40) | st.sampled_from(["\U0001F600" * 600, "\\" * 600, math.nan, 10**30])
sub_jobs = st.lists(st.fixed_dictionaries({}, optional={
    "status": statuses, "job_id": texts, "job_type": texts, "error_code": texts, "fail_reason": texts,
    "entities": json_trees,
}) | json_trees, max_size=14)
fields = st.fixed_dictionaries({"status": statuses}, optional={
    "job_id": texts, "job_type": texts, "fail_reason": texts, "error_code": texts,
    "begin_time": st.sampled_from(["2026-11-28T08:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-23:59",
                                   "1684191545379", "soon"]) | texts,
    "expected_end_time": st.sampled_from(["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"]) | texts,
    "progress": nasty_numbers, "entities": json_trees, "sub_jobs": sub_jobs, "sub_jobs_total": nasty_numbers,
})
replies = st.builds(
    Reply,
    service=st.sampled_from(["elb", "ecs", "ims", "rds", "cce", "dws", "cbr"]),
    fields=fields,
    http_status=st.sampled_from([200, 200, 200, 200, 202, 404, 429, 500, 503, 999]),
    retry_after=st.sampled_from([None, "1", "0", "9" * 400, "Wed, 21 Oct 2015 07:28:00 GMT", "soon"]),
)
# --- the caller's side: a clock 5 minutes off either way, counters and ages at their limits
callers = st.builds(
    Caller,
    started=st.sampled_from([0, 300, -300, 120.7, -40 * 86400, -10 * 365 * 86400]) | st.floats(-300, 300),
    attempt=st.sampled_from([0, 1, MAX_COUNT]) | st.integers(0, MAX_COUNT),
    errors=st.sampled_from([0, MAX_COUNT]) | st.integers(0, MAX_COUNT),
    max_wait=st.sampled_from([None, 1, MAX_WAIT_LIMIT]) | st.integers(1, MAX_WAIT_LIMIT),
    track=st.none() | st.tuples(st.floats(0, 1), st.floats(0, MAX_WAIT_LIMIT)),
)

ECS_SUB_JOB = {"status": "SUCCESS", "entities": {"server_id": "b1e1a6a4-2b3c-4d5e-8f90-1234567890ab"},
               "job_id": "ff80808288d41e1b018990260955686a", "job_type": "createSingleServer",
               "begin_time": "2026-11-28T08:00:01.000Z", "end_time": "2026-11-28T08:04:12.000Z",
               "error_code": None, "fail_reason": None}
# As many sub-job objects as the body cap holds: empty ones (each became a 100-byte object in the answer), and ECS's.
EMPTY_SUB_JOBS = (MAX_BODY - 1000) // len("{}, ")
ECS_SUB_JOBS = (MAX_BODY - 1000) // len(json.dumps(ECS_SUB_JOB) + ", ")


class World(NamedTuple):
    simulator: JobSimulator
    runtime: Runtime
    gateway: ApiGateway
    http: requests.Session


@pytest.fixture(scope="module")
def world():
    clock = Clock(START)
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock) as simulator:
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT}
        runtime = Runtime(session=new_session(), environ=environ, clock=clock, draw=lambda: 0.5, log=lambda line: None)
        with ApiGateway(lambda event: handle(event, agency(), runtime), ("/jobs/{job_id}", "/jobs")) as gateway, \
                requests.Session() as http:
            yield World(simulator, runtime, gateway, http)


def invoke(world: World, event: Any) -> Any:
    return handle(event, agency(), world.runtime)


def strict(answer: Any) -> Any:
    """The answer as a JSON reader that knows only RFC 8259 gets it; fails on NaN or an infinity."""
    return json.loads(json.dumps(answer, allow_nan=False))


def not_json(constant: str) -> None:
    pytest.fail(f"{constant} is not JSON (RFC 8259)")


def kafka(message: Any) -> dict[str, Any]:
    return kafka_event([json.dumps(message)])


class Step(NamedTuple):
    result: dict[str, Any]  # the result the answer carries
    refused: bool  # answered as input the call could not use
    next_input: Optional[Any]  # what the channel carries to the next call (None: nothing, the loop is over)


def first_call(world: World, channel: str, event: dict[str, Any]) -> Step:
    if channel in ("body", "location"):
        return through_gateway(world, "POST", f"{world.gateway.origin}/jobs/{JOB}", event, channel)
    answer = invoke(world, kafka(event) if channel == "kafka" else event)
    return direct_step(answer[0] if channel == "kafka" else answer, channel)


def next_call(world: World, channel: str, carried: Any) -> Step:
    if channel == "body":
        return through_gateway(world, "POST", f"{world.gateway.origin}/jobs/{JOB}", carried, channel)
    if channel == "location":
        return through_gateway(world, "GET", carried, None, channel)
    answer = invoke(world, kafka(carried) if channel == "kafka" else carried)
    return direct_step(answer[0] if channel == "kafka" else answer, channel)


def direct_step(answer: dict[str, Any], channel: str) -> Step:
    result = strict(answer)
    refused = (result["error"] or {}).get("type") == "invalid_input"
    if channel == "resume":
        cli.progress_line(result)  # what a terminal shows of each answer
        carried = cli.read_event(json.dumps(result, indent=2), None)  # what `poll` printed, read back
    else:
        carried = result
    return Step(result, refused, carried)


def through_gateway(world: World, method: str, url: str, body: Any, channel: str) -> Step:
    data = None if body is None else json.dumps(body, allow_nan=False).encode()
    response = world.http.request(method, url, data=data, allow_redirects=False, timeout=30)
    result = json.loads(response.text, parse_constant=not_json)  # Python's reader alone would take NaN
    refused = response.status_code == 400 and (result["error"] or {}).get("type") == "invalid_input"
    carried = response.headers.get("Location") if channel == "location" else result
    if channel == "location" and carried is not None:
        assert urlsplit(carried).netloc == urlsplit(world.gateway.origin).netloc  # it goes back to the gateway
    return Step(result, refused, carried)


def check(step: Step) -> None:
    """What every answer is: strict JSON, within its bound, never a bug, its own numbers finite and exact."""
    result = step.result
    assert len(json.dumps(result)) <= MAX_ANSWER_CHARS
    assert (result["error"] or {}).get("type") != "internal", result["error"]
    own = [result["retry_after"], *result["poll"].values(), *(result["progress"] or {}).values(),
           *((result["poll"]["progress"] or {}).values())]
    for number in own:
        if isinstance(number, (int, float)) and not isinstance(number, bool):
            assert math.isfinite(number) and abs(number) <= SAFE_INTEGER, (number, result)


def run_example(world: World, reply: Reply, caller: Caller, channel: str) -> None:
    world.simulator.faults.clear()
    headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
    world.simulator.inject(*[Fault(reply.http_status, reply.body(), headers)] * 2)

    first = first_call(world, channel, caller.event(reply.service))
    check(first)
    assert not first.refused, first.result["error"]  # the caller's own state was valid input
    if first.next_input is None:  # a finished answer has no Location: that loop is over
        assert first.result["done"]
        return
    second = next_call(world, channel, first.next_input)
    check(second)
    assert not second.refused, (channel, second.result["error"], first.result)


@pytest.mark.parametrize("channel", CHANNELS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reply=replies, caller=callers)
@example(reply=Reply("rds", {"status": "Running", "progress": "37%"}), caller=Caller(started=120))
@example(reply=Reply("elb", {"status": "RUNNING"}), caller=Caller(attempt=MAX_COUNT))
@example(reply=Reply("elb", {"status": "RUNNING"}, 503), caller=Caller(errors=MAX_COUNT))
@example(reply=Reply("rds", {"status": "Completed", "progress": "100%"}), caller=Caller(started=-40 * 86400))
@example(reply=Reply("rds", {"status": "Running", "progress": 10**400}), caller=Caller())
@example(reply=Reply("ims", {"status": "RUNNING", "progress": 1e-310}), caller=Caller())
@example(reply=Reply("ims", {"status": "RUNNING", "progress": 1e-300}), caller=Caller())
@example(reply=Reply("elb", {"status": "RUNNING"}, 429, "9" * 400), caller=Caller())
@example(reply=Reply("elb", {"status": "RUNNING", "entities": {"load": math.nan}}), caller=Caller())
@example(reply=Reply("elb", {"status": "RUNNING", "sub_jobs": [{}] * EMPTY_SUB_JOBS}), caller=Caller())
@example(reply=Reply("ecs", {"status": "RUNNING", "sub_jobs": [ECS_SUB_JOB] * 600}), caller=Caller())
@example(reply=Reply("ecs", {"status": "FAIL", "sub_jobs": [{**ECS_SUB_JOB, "status": "FAIL"}] * ECS_SUB_JOBS}),
         caller=Caller())
def test_every_answer_is_accepted_back_by_the_next_call_through_every_channel(world, channel, reply, caller):
    run_example(world, reply, caller, channel)


# --- a group of jobs: each job's reply drawn as above, the group's answer fed back through every channel


def group_event(replies: list[Reply], caller: Caller, until: str) -> dict[str, Any]:
    jobs = [{**caller.event(reply.service), "job_id": f"{JOB[:-2]}{number:02d}"}
            for number, reply in enumerate(replies)]
    return {"jobs": jobs, "until": until}


def answer_group(world: World, replies: list[Reply], running: list[bool]) -> None:
    """The job API's next answers: the group queries its running jobs one at a time, in the group's order."""
    world.simulator.faults.clear()
    for reply, runs in zip(replies, running):
        if runs:
            headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
            world.simulator.inject(Fault(reply.http_status, reply.body(), headers))


def group_call(world: World, channel: str, carried: Any, first: bool) -> Step:
    if channel == "body" or (channel == "location" and first):
        return through_gateway(world, "POST", f"{world.gateway.origin}/jobs", carried, channel)
    if channel == "location":
        return through_gateway(world, "GET", carried, None, channel)
    answer = invoke(world, kafka(carried) if channel == "kafka" else carried)
    return direct_step(answer[0] if channel == "kafka" else answer, channel)


def check_group(step: Step, count: int) -> None:
    """A group's answer is what every answer is, for the group and for each of its jobs."""
    result = step.result
    assert len(json.dumps(result)) <= MAX_ANSWER_CHARS
    assert (result["error"] or {}).get("type") != "internal", result["error"]
    assert not step.refused, result["error"]
    assert len(result["jobs"]) == count
    for job in result["jobs"]:
        check(Step(job, False, None))


@pytest.mark.parametrize("channel", CHANNELS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(group=st.lists(replies, min_size=1, max_size=4), caller=callers, until=st.sampled_from(["all", "any"]))
@example(group=[Reply("ecs", {"status": "FAIL", "entities": {"note": "y" * 7000},
                              "sub_jobs": [{**ECS_SUB_JOB, "status": "FAIL", "fail_reason": "\u2028" * 500}] * 20})]
         * MAX_JOBS, caller=Caller(attempt=MAX_COUNT, started=300), until="any")
@example(group=[Reply("ecs", {"status": "RUNNING", "sub_jobs": [ECS_SUB_JOB] * 600})] * MAX_JOBS,
         caller=Caller(attempt=MAX_COUNT, started=300), until="all")
@example(group=[Reply("rds", {"status": "Running", "progress": "37%"}), Reply("elb", {"status": "SUCCESS"})],
         caller=Caller(started=120), until="all")
def test_every_group_answer_is_accepted_back_by_the_next_call_through_every_channel(world, channel, group, caller,
                                                                                   until):
    # Issue 21: a group's answer is a valid next input like every answer, bounded in size (the first example: 20 jobs
    # whose full results make 921 kB). Catches: GroupResult.to_dict without its bound or with its comparison flipped,
    # a job's result in a group written without the bounds of a single answer, or a group state that one channel (a
    # Location's comma lists, a Kafka message) does not carry back.
    answer_group(world, group, [True] * len(group))
    first = group_call(world, channel, group_event(group, caller, until), first=True)
    check_group(first, len(group))
    if first.next_input is None:
        assert first.result["done"]
        return
    answer_group(world, group, [not job["done"] for job in first.result["jobs"]])
    second = group_call(world, channel, first.next_input, first=False)
    check_group(second, len(group))


def test_the_big_examples_are_bodies_just_under_the_cap():
    # The examples above are the cases of the issue only if their bodies are what it says: close to 1 MiB.
    for count, sub_job in ((EMPTY_SUB_JOBS, {}), (ECS_SUB_JOBS, ECS_SUB_JOB)):
        size = len(Reply("ecs", {"status": "RUNNING", "sub_jobs": [sub_job] * count}).body())
        assert MAX_BODY * 0.95 < size <= MAX_BODY, size
    assert len(json.dumps([ECS_SUB_JOB] * 600)) > 150_000


# --- what a bounded answer keeps


def ecs_sub_job(number: int, failed: bool) -> dict[str, Any]:
    return {"status": "FAIL" if failed else "SUCCESS", "job_id": f"sub-{number}", "job_type": "createSingleServer",
            "entities": {"server_id": f"server-{number}"}, "error_code": "Ecs.0013" if failed else None,
            "fail_reason": f"quota of server {number}" if failed else None}


def test_a_batch_is_counted_whole_and_shown_in_part_failed_ones_first(harness):
    # 25 servers, the last 12 failed. Catches: a sub-job list copied whole (and twice, inside entities), failed
    # sub-jobs pushed out of view by the ones that succeeded, counts or the message's "more" taken from what is shown.
    listed = [ecs_sub_job(number, failed=number >= 13) for number in range(25)]
    harness.simulator.add_job("job-1", service="ecs", init_seconds=0, run_seconds=0, outcome="FAIL",
                              entities={"note": "batch"}, script=lambda elapsed: {"sub_jobs": listed})

    answer = harness.call({"job_id": "job-1", "service": "ecs"})

    job = answer["job"]
    assert [sub["job_id"] for sub in job["sub_jobs"]] == [f"sub-{number}" for number in range(13, 23)]
    assert job["sub_jobs"][0] == {"status": "FAIL", "job_id": "sub-13", "job_type": "createSingleServer",
                                  "error_code": "Ecs.0013", "fail_reason": "quota of server 13",
                                  "entities": {"server_id": "server-13"}, "outcome": "FAIL"}
    assert (job["sub_jobs_total"], job["sub_jobs_done"], job["sub_jobs_failed"]) == (25, 25, 12)
    assert answer["progress"]["sub_jobs"] == {"done": 25, "failed": 12, "total": 25}
    assert job["entities"] == {"note": "batch"}  # its sub-job list is job.sub_jobs
    message = answer["error"]["message"]
    assert "Sub-job sub-13 failed: Ecs.0013: quota of server 13." in message and "sub-16" not in message
    assert message.endswith("9 more sub-jobs failed.")


def test_a_small_batch_is_shown_whole_in_its_order(harness):
    listed = [ecs_sub_job(number, failed=number == 2) for number in range(4)]
    harness.simulator.add_job("job-1", service="ecs", **RUNNING_FOREVER, script=lambda elapsed: {"sub_jobs": listed})

    job = harness.call({"job_id": "job-1", "service": "ecs"})["job"]

    assert [sub["job_id"] for sub in job["sub_jobs"]] == ["sub-2", "sub-0", "sub-1", "sub-3"]
    assert (job["sub_jobs_total"], job["sub_jobs_done"], job["sub_jobs_failed"]) == (4, 4, 1)


def test_a_job_api_that_says_more_than_fits_is_shown_in_brief(harness):
    # Every text of every sub-job 500 emoji long, each written \\ud83d\\ude00 (12 characters) in JSON: the full
    # snapshot would be over 300,000 characters. Catches: an answer bound that counts characters, not JSON.
    emoji = "\U0001F600" * 500
    listed = [{"status": "FAIL", "job_id": emoji, "job_type": emoji, "error_code": emoji, "fail_reason": emoji}] * 12
    harness.simulator.add_job("job-1", service="ecs", init_seconds=0, run_seconds=0, outcome="FAIL",
                              fail_reason=emoji, script=lambda elapsed: {"sub_jobs": listed})

    answer = harness.call({"job_id": "job-1", "service": "ecs"})

    assert len(json.dumps(answer)) <= MAX_ANSWER_CHARS
    job = answer["job"]
    assert job["sub_jobs"] == [] and (job["sub_jobs_total"], job["sub_jobs_failed"]) == (12, 12)
    assert job["fail_reason"] == emoji[:100] and job["entities"] is None
    assert answer["status"] == "FAIL" and answer["error"]["message"].startswith("The job (deleteELB) failed")


@pytest.mark.parametrize("size, kept", [(7 * 1024, True), (9 * 1024, False)])
def test_entities_are_carried_up_to_their_bound(harness, size, kept):
    # Catches: entities of any size copied into every answer (and from it into the next input).
    entities = {"note": "x" * size}
    harness.simulator.add_job("job-1", **RUNNING_FOREVER, entities=entities)

    answer = harness.call({"job_id": "job-1"})

    assert answer["job"]["entities"] == (entities if kept else None)


def test_an_answer_without_sub_jobs_fits_whatever_its_texts():
    # Result.to_dict measures only answers with sub-jobs; this is why it may: every other part at its longest, each
    # character an escaped pair of surrogates, fits. Catches: a text limit, the entities' bound or the message's
    # raised past what fits.
    emoji = "\U0001F600" * 10_000
    names = ("status", "job_id", "job_type", "begin_time", "end_time", "error_code", "fail_reason", "expected_end_time")
    entities = {"note": emoji[:(MAX_ENTITIES_CHARS - 12) // 12]}
    job = Job.from_fields({**dict.fromkeys(names, emoji), "entities": entities, "sub_jobs_total": MAX_SUB_JOBS})
    assert job is not None and job.entities == entities and job.sub_jobs is None
    result = Result(JobRef("j" * 64, "p" * 64, "r" * 64, "s" * 64), False, job.status.upper(), 3600, job,
                    Error(ErrorType.JOB_FAILED, emoji, True, 999),
                    Poll(MAX_COUNT, NOW, MAX_WAIT_LIMIT, MAX_COUNT, Track(1.0, MAX_WAIT_LIMIT)),
                    Progress(1.0, "sub_jobs", (MAX_SUB_JOBS,) * 3, MAX_COUNT))

    assert len(json.dumps(result.to_dict())) <= MAX_ANSWER_CHARS
