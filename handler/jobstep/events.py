"""Parsing the invocation event: which source sent it, and the job (or jobs) it asks about.

Everything here is pure. A malformed job event becomes an InvalidInput with a message for the user,
which the handler turns into a verdict before any request is made.
"""

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Callable, NamedTuple, Optional, Union

from . import errors
from .model import (
    GROUP_QUERY,
    MAX_JOBS,
    POLL_QUERY,
    InvalidInput,
    Job,
    JobRef,
    Poll,
    Result,
    Until,
    valid_id,
    valid_region,
    valid_service_name,
)

# API Gateway gives a backend at most about 30 s; the long poll stays well inside it.
MAX_LONG_POLL_SECONDS = 25
# A job event is a few hundred bytes; the asynchronous invocation limit (256 KB) is generous.
MAX_PAYLOAD_CHARS = 256 * 1024


class Source(str, Enum):
    """Where an event comes from: the sources jobstep reads (SOURCES)."""

    DIRECT = "direct"  # a direct or flow-node invocation
    APIG = "apig"
    TIMER = "timer"
    SMN = "smn"
    KAFKA = "kafka"
    CTS = "cts"


UNDERSTOOD = (
    'a direct or flow-node invocation ({"job_id": "..."}, or {"job_ids": [...]} for a group), an API Gateway'
    " request (/jobs/{job_id}, ?job_id=, or a JSON body), a timer trigger (the job event in its additional"
    " information), an SMN trigger (the job event as the message), a DMS for Kafka trigger (one job event per"
    " message) or a CTS trigger (a trace whose response names a job_id)"
)


class Query(NamedTuple):
    job_id: str
    project_id: Optional[str]
    region: Optional[str]
    service: Optional[str]
    poll: Poll
    last_job: Optional[Job]

    @property
    def ref(self) -> JobRef:
        return JobRef(self.job_id, self.project_id, self.region, self.service)


class GroupQuery(NamedTuple):
    """Jobs waited on together (`jobs` or `job_ids` in the event): each a job event of its own, to query or ended
    (answered as it is), and when the group is done."""

    until: Until
    jobs: tuple[Union[Query, Result], ...]


# A job named by the event: to query, already finished (answered as it is), a group of them, or unreadable (and why).
Parsed = Union[Query, Result, GroupQuery, InvalidInput]


class HttpRequest(NamedTuple):
    """What an API Gateway request tells its answer: where the next poll goes, and how long to long-poll."""

    origin: str  # "https://host[:port]" from the Host and X-Forwarded-Proto headers; "" when unusable
    path: str
    carried: tuple[tuple[str, str], ...] = ()  # the job fields the path does not hold, for the next poll's query
    wait: int = 0  # ?wait=N: keep querying inside the call for up to N seconds


class Trigger(NamedTuple):
    """Where the event came from and what it asks: one entry per job (Kafka batches several)."""

    source: Source
    jobs: tuple[Parsed, ...]
    request: Optional[HttpRequest] = None  # API Gateway only


def parse_event(event: Any, now: datetime, starts_loop: bool = True) -> Union[Query, Result]:
    """The job to query, from a direct invocation or a result fed back by an orchestrator.

    `starts_loop`: whether the caller feeds the answer back when the event carries no loop state."""
    job_id = _job_id(event)
    if event.get("done") is True:
        return Result.from_dict(event, job_id, now)
    project_id = event.get("project_id")
    if project_id is not None and not valid_id(project_id):
        raise InvalidInput("project_id must be 1-64 letters, digits or '-' (the project's ID, not its name)", job_id)
    region = event.get("region")
    if region is not None and not valid_region(region):
        raise InvalidInput(f"region must look like ap-southeast-1, got {region!r:.80}", job_id)
    service = event.get("service")
    if service is not None and not valid_service_name(service):
        raise InvalidInput(f"service must name a job API, such as ecs or rds; got {service!r:.40}", job_id)
    poll = Poll.from_dict(event.get("poll"), job_id, now)
    last_job = event.get("job")
    return Query(
        job_id=job_id,
        project_id=project_id,
        region=region,
        service=service,
        poll=poll._replace(stateless=poll.started_at is None and not starts_loop),
        last_job=Job.from_fields(last_job) if isinstance(last_job, dict) else None,
    )


def _job_id(event: Any) -> str:
    if not isinstance(event, dict):
        raise InvalidInput(f'the event must be a JSON object like {{"job_id": "..."}}, got {type(event).__name__}')
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not valid_id(job_id):
        shown = "missing" if job_id is None else f"{job_id!r:.80}"
        raise InvalidInput(f"job_id must be 1-64 letters, digits or '-', as the job API returned it; got {shown}")
    return job_id


# What a group's event gives each of its jobs that does not say otherwise.
_GROUP_DEFAULTS = ("project_id", "region", "service", "poll")


def is_group(event: Any) -> bool:
    """Whether the event names a group (a flow's query passes jobs and job_ids on as null when it does not)."""
    return isinstance(event, dict) and (event.get("jobs") is not None or event.get("job_ids") is not None)


def parse_group(event: dict[str, Any], now: datetime, starts_loop: bool) -> GroupQuery:
    """A group's event: `jobs` (job events, or the results a previous call gave) or `job_ids`, `until`, and the
    fields its jobs share. A group that is done (done: true, as fed back) has every job answered as it is."""
    if event.get("jobs") is not None and event.get("job_ids") is not None:
        raise InvalidInput("give the group's jobs as jobs or as job_ids, not both")
    name = "jobs" if event.get("jobs") is not None else "job_ids"
    entries, until = event[name], event.get("until")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_JOBS:
        raise InvalidInput(f"{name} must be a list of 1 to {MAX_JOBS} jobs")
    try:
        until = Until(Until.ALL if until is None else until)
    except ValueError:
        raise InvalidInput(f'until must be "all" or "any", got {until!r:.20}') from None
    shared = {key: event[key] for key in _GROUP_DEFAULTS if key in event}
    jobs: list[Union[Query, Result]] = []
    for index, entry in enumerate(entries):
        fields = {**shared, **(entry if isinstance(entry, dict) else {"job_id": entry})}
        try:
            jobs.append(Result.from_dict(fields, _job_id(fields), now) if event.get("done") is True
                        else parse_event(fields, now, starts_loop))
        except InvalidInput as invalid:
            raise InvalidInput(f"{name}[{index}]: {invalid}", invalid.job_id) from None
    ids = [job.ref.job_id for job in jobs]
    twice = next((job_id for index, job_id in enumerate(ids) if job_id in ids[:index]), None)
    if twice is not None:
        raise InvalidInput(f"{name} names the job {twice} twice", twice)
    return GroupQuery(until, tuple(jobs))


def parse_one(event: Any, now: datetime, starts_loop: bool) -> Union[Query, Result, InvalidInput]:
    """parse_event, with an unreadable job kept as a value."""
    try:
        return parse_event(event, now, starts_loop)
    except InvalidInput as invalid:
        return invalid


def parse_job(event: Any, now: datetime, starts_loop: bool = True) -> Parsed:
    """parse_one, or parse_group for a group, with an unreadable one kept as a value."""
    try:
        return parse_group(event, now, starts_loop) if is_group(event) else parse_one(event, now, starts_loop)
    except InvalidInput as invalid:
        return invalid


def _job_event(text: Any, where: str) -> dict[str, Any]:
    """A job event carried as JSON text inside a trigger's event."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f'{where} must hold a JSON job event such as {{"job_id": "..."}}; it is empty')
    if len(text) > MAX_PAYLOAD_CHARS:
        raise InvalidInput(f"{where} is larger than {MAX_PAYLOAD_CHARS} characters; a job event is far smaller")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput(f'{where} is not JSON; send a job event such as {{"job_id": "..."}}') from None
    if not isinstance(value, dict):
        raise InvalidInput(f'{where} must be a JSON object such as {{"job_id": "..."}}, got {type(value).__name__}')
    return value


def _one_off(text: Any, where: str, now: datetime) -> Parsed:
    """A job event of a source whose answers are not fed back (timer, SMN, Kafka): it starts no loop."""
    try:
        fields = _job_event(text, where)
    except InvalidInput as invalid:
        return invalid
    return parse_job(fields, now, starts_loop=False)


def _parameter(parameters: Any, name: str, where: str) -> Optional[str]:
    """One API Gateway path or query parameter, as a single string."""
    if not isinstance(parameters, dict) or parameters.get(name) is None:
        return None
    value = parameters[name]
    if isinstance(value, list) and len(value) == 1:  # a repeated query parameter may come as a list
        value = value[0]
    if not isinstance(value, str):
        raise InvalidInput(f"the {where} parameter {name} must be given once, as text")
    return value


def _merge(fields: dict[str, Any], name: str, value: Any, job_id: Any) -> None:
    """One field given in more than one place (body, query, path) must be given alike; a refusal names the job
    (job_id, the one given first when it is the job_id that differs), when that is an id."""
    if fields.get(name) not in (None, value):
        raise InvalidInput(f"{name} is given twice with different values", job_id if valid_id(job_id) else None)
    fields[name] = value


def _origin(headers: Any) -> str:
    """scheme://host of the request, from the headers API Gateway passes on (its example event: `host`,
    `x-forwarded-proto`; devg-functiongraph functiongraph_02_0741); "" when the Host is not a plain host name."""
    lowered = {str(name).lower(): value for name, value in headers.items()} if isinstance(headers, dict) else {}
    host, scheme = lowered.get("host"), lowered.get("x-forwarded-proto")
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?", host, re.ASCII):
        return ""
    return f"{scheme if scheme in ('http', 'https') else 'https'}://{host}"


def _body_text(body: str, base64_encoded: bool) -> str:
    """The request body as text. API Gateway base64-encodes it (isBase64Encoded, true by default); a body wrapped
    in lines (MIME's 76 characters) is read whole. The console's test event for API Gateway, apig-event-template,
    marks a plain JSON body as base64 ({"test":"body"} with isBase64Encoded true: the Go runtime's developer guide,
    otc-functiongraph-go-runtime devguide/event_function/trigger_events/trigger_apig_event), so a body that is
    not base64 but starts like a JSON object is read as it is."""
    if not base64_encoded:
        return body
    try:
        return base64.b64decode("".join(body.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        if body.lstrip().startswith("{"):
            return body
        raise InvalidInput("the request body is marked base64 but is not base64-encoded UTF-8") from None


def _apig_fields(event: dict[str, Any]) -> tuple[dict[str, Any], tuple[tuple[str, str], ...], int]:
    """The job event of an API Gateway request (path, query string and JSON body merged), the job fields that
    its path does not hold, and its wait."""
    body = event.get("body")
    fields: dict[str, Any] = {}
    if body not in (None, ""):
        if not isinstance(body, str):
            raise InvalidInput("the request body must be text")
        fields = _job_event(_body_text(body, event.get("isBase64Encoded") is True), "the request body")
    query, path = event.get("queryStringParameters"), event.get("pathParameters")
    if _parameter(query, "job_ids", "query") is not None:  # a group's Location
        if fields:
            raise InvalidInput("give a group in the body or in the query string (job_ids=...), not both")
        fields = _group_from_query(query)
    if is_group(fields):
        if _parameter(path, "job_id", "path") is not None:
            raise InvalidInput("a group is asked at a path without a job_id, such as /jobs")
        return fields, (), _wait(query)
    in_path = set()
    for name in JobRef._fields:  # the job fields a request may name in its path, query string or body
        value = _parameter(query, name, "query")
        if value is not None:
            _merge(fields, name, value, fields.get("job_id"))
        value = _parameter(path, name, "path")
        if value is not None:
            _merge(fields, name, value, fields.get("job_id"))
            in_path.add(name)
    if "job_id" not in fields:
        raise InvalidInput('name the job: GET /jobs/{job_id}, ?job_id=..., or a JSON body {"job_id": "..."}')
    carried_poll = Poll.from_query({name: _parameter(query, name, "query") for name in POLL_QUERY})
    if carried_poll:
        poll = fields.get("poll")
        if poll is None:
            fields["poll"] = poll = {}
        if isinstance(poll, dict):
            for name, value in carried_poll.items():
                _merge(poll, name, value, fields["job_id"])
    carried = tuple((name, fields[name]) for name in JobRef._fields
                    if name not in in_path and isinstance(fields.get(name), str))
    return fields, carried, _wait(query)


def _wait(query: Any) -> int:
    wait = _parameter(query, "wait", "query")
    if wait is not None and not (wait.isascii() and wait.isdigit() and len(wait) <= 2
                                 and int(wait) <= MAX_LONG_POLL_SECONDS):
        raise InvalidInput(f"wait must be whole seconds from 0 to {MAX_LONG_POLL_SECONDS}, got {wait!r:.20}")
    return int(wait or 0)


def _group_from_query(query: Any) -> dict[str, Any]:
    """The group event a Location's query string carries (GroupResult.to_query): each parameter of GROUP_QUERY a
    comma-separated list with one entry per job."""
    lists = {name: value.split(",") for name in GROUP_QUERY
             if name != "until" and (value := _parameter(query, name, "query")) is not None}
    count = len(lists["job_ids"])
    if count > MAX_JOBS:
        raise InvalidInput(f"job_ids must name 1 to {MAX_JOBS} jobs")
    unaligned = [name for name, values in lists.items() if len(values) != count]
    if unaligned:
        raise InvalidInput(f"the query parameter {unaligned[0]} must have one entry per job of job_ids, as a"
                           " Location gives it")
    jobs = []
    for index in range(count):
        entry = {name: values[index] for name, values in lists.items() if values[index]}
        job: dict[str, Any] = {"job_id": entry.pop("job_ids", "")}
        job.update((name, entry.pop(name)) for name in JobRef._fields[1:] if name in entry)
        ending = entry.pop("ended", "")
        poll = Poll.from_query(entry)
        if poll:
            job["poll"] = poll
        if ending:
            status, _, kind = ending.partition(":")
            job.update(done=True, status=status, error=errors.ended_earlier(status, kind) if kind else None)
        jobs.append(job)
    return {"jobs": jobs, "until": _parameter(query, "until", "query")}


def _smn_message(event: dict[str, Any]) -> Any:
    records = event.get("record")
    first = records[0] if isinstance(records, list) and records and isinstance(records[0], dict) else {}
    notification = first.get("smn")
    return notification.get("message") if isinstance(notification, dict) else None


def _kafka_messages(event: dict[str, Any]) -> list[Any]:
    records = event.get("records")
    if not isinstance(records, list):
        return [None]
    messages = [record.get("messages") if isinstance(record, dict) else None for record in records]
    return [message for batch in messages for message in (batch if isinstance(batch, list) else [None])]


def _direct(event: dict[str, Any], now: datetime) -> Trigger:
    return Trigger(Source.DIRECT, (parse_job(event, now),))


def _apig(event: dict[str, Any], now: datetime) -> Trigger:
    path = event.get("path")
    request = HttpRequest(_origin(event.get("headers")), path if isinstance(path, str) else "/")
    # The next poll's Location repeats the path: "//host/..." would point a client at another host.
    if not request.path.startswith("/") or request.path.startswith("//"):
        refused = InvalidInput("the request path must start with a single /")
        return Trigger(Source.APIG, (refused,), request._replace(path="/"))
    try:
        fields, carried, wait = _apig_fields(event)
    except InvalidInput as invalid:
        return Trigger(Source.APIG, (invalid,), request)
    # A POST starts a wait (its answers' Location continues it); a GET without loop state is a look at the job
    # now, which a client may repeat as it is.
    job = parse_job(fields, now, starts_loop=event.get("httpMethod") == "POST")
    return Trigger(Source.APIG, (job,), request._replace(carried=carried, wait=wait))


def _timer(event: dict[str, Any], now: datetime) -> Trigger:
    return Trigger(Source.TIMER, (_one_off(event.get("user_event"), "the timer's user_event", now),))


def _smn(event: dict[str, Any], now: datetime) -> Trigger:
    return Trigger(Source.SMN, (_one_off(_smn_message(event), "the SMN message", now),))


def _kafka(event: dict[str, Any], now: datetime) -> Trigger:
    return Trigger(Source.KAFKA, tuple(_one_off(text, "a Kafka message", now) for text in _kafka_messages(event)))


def _cts_job(event: dict[str, Any]) -> dict[str, Any]:
    """The job event of a CTS trace (FunctionGraph's CTS trigger, functiongraph_01_0209: {"cts": trace}): the job_id
    of its response, for the job API its service_type names in lower case (ECS -> ecs), in the project the trace
    names, when it names one. CTS's "Trace Structure" (cts_03_0010) stores `response` as a string, which its
    newer example traces (cts_03_0011) show as JSON text, while FunctionGraph's sample shows an object: both are
    read."""
    trace = event.get("cts")
    if not isinstance(trace, dict):
        raise InvalidInput("a CTS trigger's event holds its trace as an object in cts")
    service_type, code = trace.get("service_type"), trace.get("code")
    what = f"the CTS trace {str(trace.get('trace_name'))[:60]!r} of {str(service_type)[:40]!r}"
    response = trace.get("response")
    if isinstance(response, str) and len(response) <= MAX_PAYLOAD_CHARS:
        try:
            response = json.loads(response)
        except (ValueError, RecursionError):
            pass  # text that is not JSON names no job_id, as any response that is not an object
    job_id = response.get("job_id") if isinstance(response, dict) else None
    if job_id is None:
        raise InvalidInput(f"{what} names no job_id in its response (code {str(code)[:10]}): subscribe the CTS"
                           " trigger to the operations that start a job, such as ECS's createServer")
    if not isinstance(service_type, str) or not service_type.strip():
        raise InvalidInput(f"{what} has no service_type, which says whose job it is")
    fields = {"job_id": job_id, "service": service_type.strip().lower()}
    if trace.get("project_id") is not None:
        fields["project_id"] = trace["project_id"]
    return fields


def _cts(event: dict[str, Any], now: datetime) -> Trigger:
    """A trace is an event of the past, not a loop: its answer is the job's status now, as a timer tick's is."""
    try:
        return Trigger(Source.CTS, (parse_one(_cts_job(event), now, starts_loop=False),))
    except InvalidInput as invalid:
        return Trigger(Source.CTS, (invalid,))


# Each source: how its event looks (the FunctionGraph developer guide's example events) and how to read it.
# The first match wins; a direct event is recognised by its job_id, so a job event is never taken for a trigger's.
SOURCES: tuple[tuple[Source, Callable[[Mapping[str, Any]], bool], Callable[[dict[str, Any], datetime], Trigger]],
               ...] = (
    (Source.DIRECT, lambda event: "job_id" in event or is_group(event), _direct),
    (Source.APIG, lambda event: "httpMethod" in event, _apig),
    (Source.CTS, lambda event: "cts" in event, _cts),
    (Source.TIMER, lambda event: event.get("trigger_type") == "TIMER" or "user_event" in event, _timer),
    (Source.SMN, lambda event: "record" in event, _smn),
    (Source.KAFKA, lambda event: event.get("trigger_type") == "KAFKA" or "records" in event, _kafka),
)


def source_of(event: Any) -> Optional[Source]:
    """The source an event looks like, without reading it; None when it looks like none."""
    if not isinstance(event, dict):
        return None
    return next((source for source, looks_like, _ in SOURCES if looks_like(event)), None)


def read_trigger(event: Any, now: datetime) -> Trigger:
    """The event's source and the jobs it names, each parsed or the reason it cannot be."""
    source = source_of(event)
    if source is None:
        problem = "has no job_id" if isinstance(event, dict) else f"must be a JSON object, not {type(event).__name__}"
        return Trigger(Source.DIRECT, (InvalidInput(f"The event {problem}. jobstep understands {UNDERSTOOD}."),))
    read = next(read for name, _, read in SOURCES if name == source)
    return read(event, now)
