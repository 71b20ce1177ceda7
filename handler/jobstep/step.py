"""The imperative shell of one invocation: read the edges, query the job once, decide, answer, log.

Every edge (HTTP session, environment, clock, sleep, randomness, log sink) comes in through Runtime, so tests
and the CLI run the very same code against the loopback simulator. The decisions are the pure functions of
events.py, config.py, policy.py and answer.py.
"""

import os
import random
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, NamedTuple, Optional, Union

import requests

from . import errors
from .answer import Answered, grouped, http_response, internal_response, log_line, result
from .client import fetch_job
from .config import load_config, resolve, settle
from .credentials import context_value, signing_keys
from .events import GroupQuery, Parsed, Query, Source, Trigger, parse_job, read_trigger, source_of
from .model import (
    ConfigError,
    Error,
    Failure,
    FailureKind,
    GroupResult,
    InvalidInput,
    Job,
    JobRef,
    Poll,
    Reply,
    Result,
)
from .policy import combine, ended_without_query

# Kept back from the function's remaining time for answering after the request.
MARGIN_SECONDS = 1.0
# Below this there is no point in starting a request; the loop calls again.
MIN_BUDGET_SECONDS = 0.5
# A job query that takes longer than this is better retried by the loop than waited for.
MAX_REQUEST_SECONDS = 10.0

# What the handler returns, in the shape its source expects: one result's JSON; a list of them for a Kafka batch;
# an HTTP response around one for API Gateway.
Answer = Union[dict[str, Any], list[dict[str, Any]]]


# Where FunctionGraph unpacked the code package (index.py and this package): RUNTIME_CODE_ROOT, or a checkout.
CODE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@lru_cache(maxsize=4)  # the package's files do not change during an instance's life
def read_code_file(name: str) -> str:
    """A file of the code package by its name relative to the package's root (JOBSTEP_SERVICES names one)."""
    if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError("not a relative name inside the code package")
    with open(os.path.join(CODE_ROOT, name), encoding="utf-8") as file:
        return file.read()


class Runtime(NamedTuple):
    session: requests.Session
    environ: Mapping[str, str] = os.environ  # live: read at every call
    read_file: Callable[[str], str] = read_code_file
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep  # only API Gateway's long poll waits inside a call
    draw: Callable[[], float] = random.random
    log: Callable[[str], None] = print


def remaining_seconds(context: Any) -> float:
    """What is left of the invocation's time, as FunctionGraph counts it."""
    try:
        return float(context.getRemainingTimeInMilliSeconds()) / 1000
    except Exception:  # no FunctionGraph context: a local call has no timeout of its own
        return MAX_REQUEST_SECONDS + MARGIN_SECONDS


def request_budget(context: Any, runtime: Runtime, until: Optional[float], share: int = 1) -> float:
    """Seconds the request may take so that the function still answers before its own timeout, and by `until`
    (on the runtime's clock) when a long poll set one: a `share`-th of that time when as many requests are left
    (a group's)."""
    budget = min(MAX_REQUEST_SECONDS, (remaining_seconds(context) - MARGIN_SECONDS) / share)
    return budget if until is None else min(budget, until - runtime.clock())


def _now(runtime: Runtime) -> datetime:
    return datetime.fromtimestamp(runtime.clock(), timezone.utc)


def _query_once(query: Query, context: Any, runtime: Runtime, now: datetime, until: Optional[float],
                share: int) -> Result:
    try:
        config = load_config(runtime.environ, runtime.read_file)
    except ConfigError as exc:
        return result(*ended_without_query(errors.misconfigured(exc), query.poll, now), query.ref)
    ref, poll = settle(query, config)
    target = resolve(query, config)
    credentials = signing_keys(context, runtime.environ)
    if isinstance(target, Error):
        return result(*ended_without_query(target, poll, now), ref)
    if isinstance(credentials, Error):
        return result(*ended_without_query(credentials, poll, now), ref)

    budget = request_budget(context, runtime, until, share)
    reply: Reply
    if budget < MIN_BUDGET_SECONDS:
        reply = Failure(FailureKind.TIMEOUT, errors.TOO_LITTLE_TIME)
    else:
        reply = fetch_job(runtime.session, target, credentials, now, budget)
    verdict, next_poll = config.policy.decide(reply, poll, query.last_job, now, runtime.draw())
    return result(verdict, next_poll, ref, reply if isinstance(reply, Job) else query.last_job)


def _internal(exc: Exception, now: datetime, ref: JobRef) -> Result:
    return result(*ended_without_query(errors.internal(exc), Poll(), now), ref)


def _answer_job(job: Union[Query, Result, InvalidInput], context: Any, runtime: Runtime,
                until: Optional[float] = None, share: int = 1) -> Result:
    """The result for one job, logged, its query ended by `until` if given and given a `share`-th of the time left
    (request_budget); never raises."""
    began = time.monotonic()
    now = _now(runtime)
    answered: Result
    try:
        if isinstance(job, InvalidInput):
            answered = result(*ended_without_query(errors.invalid(job), Poll(), now), JobRef(job.job_id))
        elif isinstance(job, Result):  # a finished result fed back: answered as it is
            answered = job
        else:
            answered = _query_once(job, context, runtime, now, until, share)
    except Exception as exc:  # a bug must still answer, and say so, for its job (a group's Location needs its id)
        answered = _internal(exc, now, job.ref if isinstance(job, Query) else JobRef())
    try:
        runtime.log(log_line(answered, context_value(context, "getRequestID"), time.monotonic() - began))
    except Exception:  # a broken log sink must not break the answer
        pass
    return answered


def _answer_group(group: GroupQuery, context: Any, runtime: Runtime, until: Optional[float]) -> GroupResult:
    """Each job of the group asked once, in turn, given an equal share of the time left (one that has ended is
    answered as it is, and not asked again); the group's verdict on them."""
    results = []
    left = sum(isinstance(job, Query) for job in group.jobs)
    for job in group.jobs:
        results.append(_answer_job(job, context, runtime, until, share=max(left, 1)))
        left -= isinstance(job, Query)
    return grouped(combine(group.until, results), group.until, results)


def _answer(job: Parsed, context: Any, runtime: Runtime, until: Optional[float]) -> Answered:
    if isinstance(job, GroupQuery):
        return _answer_group(job, context, runtime, until)
    return _answer_job(job, context, runtime, until)


def _long_poll(latest: Answered, until: float, context: Any, runtime: Runtime) -> Answered:
    """Ask again inside this call, as the loop would, until done, `until` comes or the function's time runs short;
    each query, ended by `until`, is given at least MIN_BUDGET_SECONDS of it."""
    while not latest.done and latest.retry_after:
        delay = latest.retry_after
        time_left = remaining_seconds(context) - MARGIN_SECONDS - MIN_BUDGET_SECONDS
        if runtime.clock() + delay + MIN_BUDGET_SECONDS > until or delay > time_left:
            break
        runtime.sleep(delay)
        latest = _answer(parse_job(latest.to_dict(), _now(runtime)), context, runtime, until)
    return latest


def _shaped(trigger: Trigger, results: list[Answered], context: Any, runtime: Runtime,
            until: Optional[float]) -> Answer:
    """The answer in the shape its source expects."""
    if trigger.source is Source.KAFKA:
        return [each.to_dict() for each in results]
    if trigger.request is not None:  # API Gateway
        latest = results[0] if until is None else _long_poll(results[0], until, context, runtime)
        return http_response(latest, trigger.request)
    return results[0].to_dict()


def _shaped_internal(source: Source, count: int, internal: Result) -> Answer:
    """A bug's answer, still in the shape the source expects (a Kafka trigger, API Gateway)."""
    if source is Source.KAFKA:
        return [internal.to_dict()] * max(count, 1)
    if source is Source.APIG:
        return internal_response(internal)
    return internal.to_dict()


def handle(event: Any, context: Any, runtime: Runtime) -> Answer:
    """One invocation, answered in the shape its source expects. Never raises: failures are verdicts."""
    trigger = Trigger(source_of(event) or Source.DIRECT, ())
    try:
        began = runtime.clock()
        trigger = read_trigger(event, _now(runtime))
        # A long poll (API Gateway's ?wait=N) answers within N seconds of the call's start, its first query included.
        wait = trigger.request.wait if trigger.request is not None else 0
        until = began + wait if wait else None
        results = [_answer(job, context, runtime, until) for job in trigger.jobs]
        return _shaped(trigger, results, context, runtime, until)
    except Exception as exc:  # a bug or a broken edge: still an answer, in the source's shape
        # The machine's clock, not the runtime's: the runtime may be what failed.
        return _shaped_internal(trigger.source, len(trigger.jobs), _internal(exc, datetime.now(timezone.utc), JobRef()))
