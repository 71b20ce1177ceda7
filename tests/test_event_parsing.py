"""Reading an event (events.py), rule by rule: which source it is, where its job and its loop state are, and what a
refusal says and names. Pure functions, called directly; the API Gateway rules that show in a Location go through the
handler."""

import base64
import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from helpers import PROJECT, RUNNING_FOREVER, apig, http, kafka_event, sample_event
from jobstep.events import MAX_PAYLOAD_CHARS, GroupQuery, Query, Source, parse_event, parse_job, read_trigger
from jobstep.model import InvalidInput, Result

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
EARLIER = "2026-11-28T07:59:00Z"


def job_event(**fields):
    return json.dumps({"job_id": "job-1", **fields})


def timer(text):
    return sample_event("timer", user_event=text)


def smn(text):
    event = sample_event("smn")
    event["record"][0]["smn"]["message"] = text
    return event


def cts(response, **trace):
    """The documented CTS event, its trace of ECS with this response (and any other field of the trace)."""
    event = sample_event("cts")
    event["cts"].update({"service_type": "ECS", "trace_name": "createServer", "code": 200, "response": response,
                         **trace})
    return event


# --- which source


@pytest.mark.parametrize("event, source", [
    ({"job_id": "job-1"}, Source.DIRECT),
    (apig(path={"job_id": "job-1"}), Source.APIG),
    ({**apig(path={"job_id": "job-1"}), "path": "//evil.example/jobs"}, Source.APIG),  # a refused path
    ({**apig(), "body": 17}, Source.APIG),  # a refused body
    (timer(job_event()), Source.TIMER),
    (smn(job_event()), Source.SMN),
    (kafka_event([job_event()]), Source.KAFKA),
    (cts({"job_id": "job-1"}), Source.CTS),
    (cts({}), Source.CTS),  # a trace that names no job: refused
    ("not an object", Source.DIRECT),  # refused, answered as a direct call is
])
def test_each_event_is_read_as_its_sources(event, source):
    # docs/events.md's table: each source recognised, its jobs read or refused as that source's.
    # Catches: a trigger read with no source (None), which only a Kafka answer's shape would show; a CTS trace's
    # trigger, read or refused, with no source.
    assert read_trigger(event, NOW).source is source


# --- a job event's fields


def test_a_direct_job_event_starts_a_loop_and_keeps_its_fields_and_last_snapshot():
    # A direct call starts a loop (it is not stateless); the job's project, region, service and the snapshot fed
    # back (`job`, shown again through a TIMEOUT) all reach the query. Catches: the starts_loop default flipped,
    # a field dropped, or the fed-back snapshot read from another key or not at all.
    event = {"job_id": "job-1", "project_id": PROJECT, "region": "ap-southeast-3", "service": "ecs",
             "job": {"status": "RUNNING", "job_type": "createServer"}}

    for query in (parse_event(event, NOW), parse_job(event, NOW)):
        assert isinstance(query, Query) and not query.poll.stateless
        assert (query.job_id, query.project_id, query.region, query.service) == ("job-1", PROJECT, "ap-southeast-3",
                                                                                  "ecs")
        assert query.last_job is not None and query.last_job.job_type == "createServer"


def test_a_finished_result_fed_back_keeps_its_job_id():
    # Catches: a finished result read back without the job it is about.
    finished = {"job_id": "job-1", "done": True, "status": "SUCCESS"}

    answered = parse_event(finished, NOW)

    assert isinstance(answered, Result) and answered.ref.job_id == "job-1"


@pytest.mark.parametrize("field, value", [("project_id", "p/../q"), ("region", "evil.example.com/"),
                                          ("service", "elb.evil.com"), ("poll", {"attempt": -1})])
def test_a_refused_field_of_a_named_job_is_answered_for_that_job(field, value):
    # An invalid field of an event whose job_id is good: the refusal names the job, so its answer says which job.
    # Catches: the refusal's job_id dropped (the answer would name no job).
    refused = parse_job({"job_id": "job-1", field: value}, NOW)

    assert isinstance(refused, InvalidInput) and refused.job_id == "job-1" and field in str(refused)


@pytest.mark.parametrize("event, says", [
    ([], "got list"), ({"job_id": None}, "got missing"), ({"job_id": 4010}, "got 4010"),
])
def test_a_refused_event_says_what_it_got(event, says):
    # Catches: a refusal that does not say what came instead (the type of a non-object, a job_id shown or missing).
    with pytest.raises(InvalidInput) as refused:
        parse_event(event, NOW)
    assert says in str(refused.value)


@pytest.mark.parametrize("event, says", [(["job-1"], "not list"), (17, "not int")])
def test_an_event_that_is_not_an_object_is_refused_naming_its_type(event, says):
    # Catches: a message that names another type than the one sent.
    (refused,) = read_trigger(event, NOW).jobs
    assert isinstance(refused, InvalidInput) and says in str(refused)


# --- the triggers that carry a job event as text


@pytest.mark.parametrize("event, names", [
    (timer("not json"), "user_event"), (smn("not json"), "SMN message"), (kafka_event(["not json"]), "Kafka message"),
    (timer("[1, 2]"), "user_event"),
])
def test_a_triggers_unreadable_job_event_is_refused_naming_where_it_was(event, names):
    # Catches: a refusal that does not say where the job event was expected (the trigger's own field).
    (refused,) = read_trigger(event, NOW).jobs
    assert isinstance(refused, InvalidInput) and names in str(refused)


def test_a_job_event_that_is_not_an_object_is_refused_naming_its_type():
    # Catches: the JSON's type misreported in the refusal.
    (refused,) = read_trigger(timer("[1, 2]"), NOW).jobs
    assert "got list" in str(refused)


def test_a_job_event_of_the_largest_size_read_is_read_and_one_character_more_is_not():
    # MAX_PAYLOAD_CHARS is the largest job event read. Catches: the bound moved by one.
    text = job_event()
    at_limit = text + " " * (MAX_PAYLOAD_CHARS - len(text))

    (read,) = read_trigger(timer(at_limit), NOW).jobs
    (refused,) = read_trigger(timer(at_limit + " "), NOW).jobs

    assert isinstance(read, Query) and isinstance(refused, InvalidInput)


@pytest.mark.parametrize("event", [
    timer(job_event(poll={"started_at": EARLIER})), smn(job_event(poll={"started_at": EARLIER})),
    kafka_event([job_event(poll={"started_at": EARLIER})]),
])
def test_a_triggers_job_event_keeps_its_loop_start_and_is_checked_against_now(event):
    # A start given in a trigger's job event is read (and checked against the current time). Catches: the time
    # not passed on (the check of a future start would fail on it).
    (query,) = read_trigger(event, NOW).jobs
    assert isinstance(query, Query) and query.poll.started_at is not None and not query.poll.stateless


@pytest.mark.parametrize("records", [[17], [{"messages": "not a list"}]])
def test_a_kafka_record_or_batch_that_is_not_a_list_is_one_refused_message(records):
    # Catches: a malformed record or batch taken apart anyway (a crash, or each character a message).
    event = {**kafka_event([job_event()]), "records": records}

    (refused,) = read_trigger(event, NOW).jobs

    assert isinstance(refused, InvalidInput)


# --- API Gateway: where the job and the loop's state come from


@pytest.mark.parametrize("where", ["query", "path"])
def test_a_parameter_given_as_a_list_of_one_is_that_value_and_of_two_is_refused_naming_where(where):
    # A repeated query parameter may come as a list. Catches: a list of one read as nothing or as another item, or a
    # refusal that does not say which parameter, where.
    one = apig(**{where: {"job_id": ["job-1"]}})
    two = apig(**{where: {"job_id": ["job-1", "job-2"]}})

    (query,) = read_trigger(one, NOW).jobs
    (refused,) = read_trigger(two, NOW).jobs

    assert isinstance(query, Query) and query.job_id == "job-1"
    assert isinstance(refused, InvalidInput) and f"{where} parameter job_id" in str(refused)


def test_a_wait_given_twice_is_refused_naming_the_query():
    # Catches: a refusal of the wait that does not say where it came from.
    (refused,) = read_trigger(apig(path={"job_id": "job-1"}, query={"wait": ["1", "2"]}), NOW).jobs
    assert "query parameter wait" in str(refused)


def test_a_job_named_twice_differently_is_refused_for_one_of_them():
    # Catches: the refusal's job_id dropped, or taken from a value that is no id.
    (refused,) = read_trigger(apig(path={"job_id": "job-1"}, query={"job_id": "job-2"}), NOW).jobs
    (hostile,) = read_trigger(apig(path={"job_id": "job-1"}, body={"job_id": "job/../x"}), NOW).jobs

    assert isinstance(refused, InvalidInput) and refused.job_id in ("job-1", "job-2")
    assert isinstance(hostile, InvalidInput) and hostile.job_id in ("job-1", None)


@pytest.mark.parametrize("body, says", [(17, "text"), ("not json", "request body")])
def test_a_body_that_is_not_text_or_not_json_is_refused_naming_the_body(body, says):
    # Catches: a refusal without its message, or one that does not name the request body.
    event = {**apig(path={"job_id": "job-1"}), "body": body, "isBase64Encoded": False}

    (refused,) = read_trigger(event, NOW).jobs

    assert isinstance(refused, InvalidInput) and says in str(refused)


def test_a_body_marked_base64_with_a_character_outside_base64_is_refused():
    # base64 read strictly: a body with a stray character is not decoded by skipping it. Catches: lenient decoding.
    encoded = base64.b64encode(job_event().encode()).decode()
    event = {**apig(), "body": encoded[:8] + "*" + encoded[8:], "isBase64Encoded": True}

    (refused,) = read_trigger(event, NOW).jobs

    assert isinstance(refused, InvalidInput) and "base64" in str(refused)


def test_a_plain_json_body_marked_base64_is_read_after_leading_blanks():
    # The console's test event marks a plain JSON body as base64 (docs/events.md); leading blanks do not hide it.
    # Catches: the leading blanks stripped from the wrong end.
    event = {**apig(), "body": '\n  {"job_id": "job-1"}', "isBase64Encoded": True}

    (query,) = read_trigger(event, NOW).jobs

    assert isinstance(query, Query) and query.job_id == "job-1"


def test_the_loop_state_in_the_query_string_continues_the_loop_with_the_bodys():
    # docs/events.md: the loop's state may come as query parameters (how Location carries it), merged with a body's
    # poll. Catches: the query's state ignored, the body's poll replaced by it, or a poll made where none is needed.
    from_query = apig(path={"job_id": "job-1"}, query={"started_at": EARLIER, "attempt": "3", "errors": "1"})
    merged = apig(path={"job_id": "job-1"}, query={"attempt": "3"}, body={"poll": {"started_at": EARLIER}})

    (continued,) = read_trigger(from_query, NOW).jobs
    (both,) = read_trigger(merged, NOW).jobs

    assert isinstance(continued, Query) and (continued.poll.attempt, continued.poll.errors) == (3, 1)
    assert continued.poll.started_at == datetime(2026, 11, 28, 7, 59, tzinfo=timezone.utc)
    assert isinstance(both, Query) and both.poll.attempt == 3 and both.poll.started_at is not None


def location_of(answer):
    assert answer["statusCode"] == 202, http(answer)
    return urlsplit(answer["headers"]["Location"])


def test_location_carries_the_job_fields_the_path_does_not_hold(harness):
    # docs/events.md: the next poll is this request's path with its job fields in the query string. Catches: the
    # path's job_id repeated in the query, or the query's project_id and service left out.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call(apig(path={"job_id": "job-1"}, query={"project_id": PROJECT, "service": "elb"},
                               method="POST"))

    query = dict(parse_qsl(location_of(answer).query))
    assert "job_id" not in query and (query["project_id"], query["service"]) == (PROJECT, "elb")


@pytest.mark.parametrize("headers, origin", [
    ({"host": "api.example.com"}, "https://api.example.com"),
    ({"Host": "Api.Example.COM", "X-Forwarded-Proto": "http"}, "http://Api.Example.COM"),
    ({"host": "api.example.com:8443", "x-forwarded-proto": "ftp"}, "https://api.example.com:8443"),
    ({"host": "evil.example/x"}, ""),  # not a plain host name: a relative Location
    (None, ""),
])
def test_location_is_absolute_for_a_plain_host_of_any_case_and_relative_otherwise(harness, headers, origin):
    # docs/events.md: Location is built from the host and x-forwarded-proto headers (https unless http is said); a
    # Host that is not a plain host name, or none, gets a relative Location. Catches: a host name of one case only, a
    # scheme taken as given, or something other than nothing in front of a relative Location.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call({**apig(path={"job_id": "job-1"}, method="POST"), "headers": headers})

    location = answer["headers"]["Location"]
    assert location.startswith(f"{origin}/jobs/job-1?")


def test_a_request_without_a_path_is_read_from_its_parameters(harness):
    # A path that is not text is taken as "/". Catches: a crash (internal) or a refusal for a missing path.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)

    answer = harness.call({**apig(query={"job_id": "job-1"}, method="POST"), "path": None})

    assert answer["statusCode"] == 202 and location_of(answer).path == "/"


def test_a_wait_of_more_than_two_digits_is_refused_even_with_a_leading_zero():
    # ?wait=N takes N from 0 to 25 in at most two digits (docs/events.md); a longer one is refused before it is read
    # as a number, a leading zero included. Catches: the bound on its digits moved by one ("025" read as 25).
    (read,) = read_trigger(apig(path={"job_id": "job-1"}, query={"wait": "25"}), NOW).jobs
    (refused,) = read_trigger(apig(path={"job_id": "job-1"}, query={"wait": "025"}), NOW).jobs

    assert isinstance(read, Query) and isinstance(refused, InvalidInput) and "wait" in str(refused)


@pytest.mark.parametrize("event, name", [
    (apig(query={"job_ids": ["job-1,job-2", "job-3"]}), "query parameter job_ids"),
    (apig(query={"job_ids": "job-1,job-2", "region": ["ap-southeast-1,", ",ap-southeast-3"]}),
     "query parameter region"),
    (apig(query={"job_ids": "job-1,job-2", "until": ["all", "any"]}), "query parameter until"),
    ({**apig(body={"job_ids": ["job-1"]}), "pathParameters": {"job_id": ["job-1", "job-2"]}}, "path parameter job_id"),
    (apig(path={"job_id": "job-1"}, query={"attempt": ["1", "2"]}), "query parameter attempt"),
])
def test_a_parameter_given_twice_is_refused_saying_where_and_which(event, name):
    # A refusal of a repeated parameter says where it was (query string or path) and which it is, for a group's
    # Location (job_ids, the lists, until), a group at a job's path, and the loop state of a job's query string.
    # Catches: the where of each of those reads dropped (None) or rewritten.
    (refused,) = read_trigger(event, NOW).jobs
    assert isinstance(refused, InvalidInput) and f"the {name} must be given once" in str(refused)


@pytest.mark.parametrize("event", [
    apig(path={"job_id": "job-1"}, query={"project_id": PROJECT}, body={"project_id": "other-project"}),
    apig(path={"job_id": "job-1", "region": "ap-southeast-1"}, query={"region": "ap-southeast-3"}),
    apig(path={"job_id": "job-1"}, query={"attempt": "3"}, body={"poll": {"attempt": 2}}),
])
def test_a_field_given_twice_differently_is_refused_for_its_job(event):
    # A project, region or loop state given twice differently (body and query, query and path) is refused for the
    # job the request names, so its answer says which job; never for the project or region, which look like ids.
    # Catches: the refusal's job dropped, or the conflicting value named as the job.
    (refused,) = read_trigger(event, NOW).jobs
    assert isinstance(refused, InvalidInput) and "given twice" in str(refused) and refused.job_id == "job-1"


# --- groups


@pytest.mark.parametrize("event, stateless", [
    ({"job_ids": ["job-1", "job-2"]}, False),  # a direct call starts the loop
    (apig(body={"job_ids": ["job-1", "job-2"]}, method="POST"), False),
    (apig(query={"job_ids": "job-1,job-2"}), True),  # a GET looks
    (timer(json.dumps({"job_ids": ["job-1", "job-2"]})), True),  # a timer's answers are not fed back
    (kafka_event([json.dumps({"jobs": [{"job_id": "job-1"}, {"job_id": "job-2"}]})]), True),
])
def test_a_groups_jobs_start_a_loop_as_a_single_job_of_that_source_does(event, stateless):
    # docs/events.md: a direct call or a POST starts a loop, a GET, a timer's tick or a message does not; a group's
    # jobs follow the event's source. Catches: the source's starts_loop not passed to the group or to its jobs
    # (the default, or None, taken instead).
    (group,) = read_trigger(event, NOW).jobs
    assert isinstance(group, GroupQuery) and [job.poll.stateless for job in group.jobs] == [stateless, stateless]


@pytest.mark.parametrize("event, job_id", [
    ({"job_ids": ["job-1", "job-2"], "region": "evil.example/"}, "job-1"),  # a shared field: its first job
    ({"jobs": [{"job_id": "job-1"}, {"job_id": "job-2", "service": "elb.evil.com"}]}, "job-2"),
    ({"job_ids": ["job-1", "job-2"], "done": True, "status": "no such status"}, "job-1"),  # a group fed back
    ({"job_ids": ["job-1", "job-2", "job-1"]}, "job-1"),  # a job named twice
])
def test_a_refused_group_is_refused_for_the_job_at_fault(event, job_id):
    # A group refused because of one of its jobs names that job (the answer shows it). Catches: the job_id of a
    # job's refusal, or of a job named twice, dropped when the group's refusal is made.
    refused = parse_job(event, NOW)
    assert isinstance(refused, InvalidInput) and refused.job_id == job_id


def test_a_group_location_gives_each_job_its_own_project_region_and_service():
    # A Location's lists hold one entry per job, "" where a job has none (GroupResult.to_query). Catches: a job
    # field of the list (project_id, the first after job_id) left out of its job.
    query = {"job_ids": "job-1,job-2", "project_id": f",{PROJECT}", "region": "ap-southeast-3,",
             "service": "ecs,rds"}

    (group,) = read_trigger(apig(query=query), NOW).jobs

    assert isinstance(group, GroupQuery)
    assert [(job.project_id, job.region, job.service) for job in group.jobs] == [
        (None, "ap-southeast-3", "ecs"), (PROJECT, None, "rds")]


def test_an_empty_entry_of_a_group_locations_job_ids_is_refused_as_an_empty_job_id():
    # An entry of job_ids that is empty is a job_id given empty, refused saying so and which entry: not a missing
    # job_id, nor something else. Catches: the empty entry read as None, as another text, or not at all (a crash).
    (refused,) = read_trigger(apig(query={"job_ids": "job-1,,job-2"}), NOW).jobs
    assert isinstance(refused, InvalidInput) and "jobs[1]: job_id" in str(refused) and "got ''" in str(refused)


def test_a_job_that_ended_at_an_earlier_call_keeps_its_status_in_its_error():
    # A Location carries a job that ended as STATUS:error_type (GroupResult.to_query); its error, read back, says
    # how it ended. Catches: the status left out of the error's message.
    query = {"job_ids": "job-1,job-2", "ended": "TIMEOUT:max_wait,"}

    (group,) = read_trigger(apig(query=query), NOW).jobs

    assert isinstance(group, GroupQuery)
    ended = group.jobs[0]
    assert isinstance(ended, Result) and ended.status == "TIMEOUT" and ended.error is not None
    assert ended.error.type == "max_wait" and "TIMEOUT" in ended.error.message


# --- CTS traces


def test_a_cts_refusal_quotes_the_traces_name_service_and_code_only_so_far():
    # A refusal of a trace quotes at most 60 characters of its trace_name, 40 of its service_type and 10 of its
    # code: a trace's own text is not echoed at length. Catches: each of those bounds moved.
    name, service, code = "n" * 60, "s" * 40, "2" * 10

    (refused,) = read_trigger(cts({}, trace_name=name + "more", service_type=service + "more", code=code + "9"),
                              NOW).jobs

    message = str(refused)
    assert f"the CTS trace {name!r} of {service!r}" in message and f"(code {code})" in message


def test_a_cts_response_text_of_the_largest_size_read_is_read_and_one_character_more_is_not():
    # A trace's response given as JSON text is read up to MAX_PAYLOAD_CHARS, as any job event. Catches: the bound
    # moved by one.
    text = json.dumps({"job_id": "job-1"})
    at_limit = text + " " * (MAX_PAYLOAD_CHARS - len(text))

    (read,) = read_trigger(cts(at_limit), NOW).jobs
    (refused,) = read_trigger(cts(at_limit + " "), NOW).jobs

    assert isinstance(read, Query) and read.job_id == "job-1" and isinstance(refused, InvalidInput)
