"""The imperative shell of one invocation: read the edges, query the job once, decide, answer, log.

Every edge (HTTP session, environment, clock, sleep, randomness, log sink) comes in through Runtime,
so tests and the CLI run the very same code against the loopback simulator.
"""

import json
import os
import random
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Optional, Union

import requests

from .answer import echo, http_response, refusal, result
from .client import fetch_job
from .config import Config, ConfigError, load_config
from .credentials import context_value, find_credentials, unusable
from .events import KAFKA, Finished, InvalidInput, Parsed, Query, parse_job, read_trigger
from .model import Error, Failure, Job, Reply
from .services import SERVICES, JobApi

# Kept back from the function's remaining time for answering after the request.
MARGIN_SECONDS = 1.0
# Below this there is no point in starting a request; the loop calls again.
MIN_BUDGET_SECONDS = 0.5
# A job query that takes longer than this is better retried by the loop than waited for.
MAX_REQUEST_SECONDS = 10.0

# One result; a list of them for a Kafka batch; an HTTP response around one for API Gateway.
Answer = Union[dict[str, Any], list[dict[str, Any]]]


class Runtime(NamedTuple):
    session: requests.Session
    environ: Mapping[str, str] = os.environ  # live: read at every call
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep  # only API Gateway's long poll waits inside a call
    draw: Callable[[], float] = random.random
    log: Callable[[str], None] = print


def endpoint(config: Config, api: JobApi, region: Optional[str]) -> Optional[str]:
    if config.endpoint:
        return config.endpoint
    return api.regional_endpoint(region) if region else None


def remaining_seconds(context: Any) -> float:
    """What is left of the invocation's time, as FunctionGraph counts it."""
    try:
        return float(context.getRemainingTimeInMilliSeconds()) / 1000
    except Exception:  # no FunctionGraph context: a local call has no timeout of its own
        return MAX_REQUEST_SECONDS + MARGIN_SECONDS


def request_budget(context: Any) -> float:
    """Seconds the request may take so that the function still answers before its own timeout."""
    return min(MAX_REQUEST_SECONDS, remaining_seconds(context) - MARGIN_SECONDS)


def _query_once(query: Query, context: Any, runtime: Runtime, now: datetime) -> dict[str, Any]:
    started_at = query.poll.started_at or now
    attempt = query.poll.attempt + 1
    try:
        config = load_config(runtime.environ)
    except ConfigError as exc:
        error = Error("configuration", str(exc), False)
        return refusal(error, query.job_id, query.project_id, query.region, query.service, attempt, started_at,
                       query.poll.max_wait or Config().max_wait)
    project_id = query.project_id or config.project_id
    region = query.region or config.region
    max_wait = query.poll.max_wait or config.max_wait
    service = query.service or config.service
    api = SERVICES[service]

    def refuse(kind: str, message: str) -> dict[str, Any]:
        error = Error(kind, message, False)
        return refusal(error, query.job_id, project_id, region, service, attempt, started_at, max_wait)

    base = endpoint(config, api, region)
    if not project_id:
        return refuse("configuration", "No project ID: pass project_id in the event, or set "
                      "HUAWEICLOUD_SDK_PROJECT_ID (FunctionGraph sets RUNTIME_PROJECT_ID itself).")
    if not base:
        return refuse("configuration", "No region: pass region in the event, or set JOBSTEP_REGION "
                      "(for example ap-southeast-1).")
    credentials = find_credentials(context, runtime.environ)
    if credentials is None:
        return refuse("credentials", "No credentials: give the function an agency (FunctionGraph then hands its "
                      "temporary keys to the handler), or set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK.")
    problem = unusable(credentials)
    if problem:
        return refuse("credentials", problem)

    budget = request_budget(context)
    reply: Reply
    if budget < MIN_BUDGET_SECONDS:
        reply = Failure("timeout", "too little of the invocation's time was left to query the job")
    else:
        url = api.url(base, project_id, query.job_id)
        reply = fetch_job(runtime.session, api, url, credentials, project_id, now, budget)
    verdict = config.policy(max_wait).decide(reply, query.poll, query.last_job, now, runtime.draw())
    job = reply if isinstance(reply, Job) else query.last_job
    return result(query.job_id, project_id, region, service, verdict, job, attempt, max_wait)


def _now(runtime: Runtime) -> datetime:
    return datetime.fromtimestamp(runtime.clock(), timezone.utc)


def _internal(exc: Exception, now: datetime) -> dict[str, Any]:
    error = Error("internal", f"jobstep failed unexpectedly ({type(exc).__name__}); please report it", False)
    return refusal(error, None, None, None, None, 1, now, Config().max_wait)


def _answer_job(job: Parsed, context: Any, runtime: Runtime) -> dict[str, Any]:
    """The result for one job, logged; never raises."""
    began = time.monotonic()
    now = _now(runtime)
    try:
        if isinstance(job, InvalidInput):
            error = Error("invalid_input", str(job), False)
            answer = refusal(error, job.job_id, None, None, None, 1, now, Config().max_wait)
        elif isinstance(job, Finished):
            answer = echo(job.result)
        else:
            answer = _query_once(job, context, runtime, now)
    except Exception as exc:  # a bug must still answer, and say so
        answer = _internal(exc, now)
    _log(runtime, context, answer, time.monotonic() - began)
    return answer


def _long_poll(answer: dict[str, Any], wait: int, context: Any, runtime: Runtime) -> dict[str, Any]:
    """Ask again inside this call, as the loop would, until done, `wait` seconds pass or time runs short."""
    until = runtime.clock() + wait
    while not answer["done"] and answer["retry_after"]:
        delay = answer["retry_after"]
        time_left = remaining_seconds(context) - MARGIN_SECONDS - MIN_BUDGET_SECONDS
        if runtime.clock() + delay > until or delay > time_left:
            break
        runtime.sleep(delay)
        answer = _answer_job(parse_job(answer, _now(runtime)), context, runtime)
    return answer


def handle(event: Any, context: Any, runtime: Runtime) -> Answer:
    """One invocation, answered in the shape its source expects. Never raises: failures are verdicts."""
    try:
        trigger = read_trigger(event, _now(runtime))
        answers = [_answer_job(job, context, runtime) for job in trigger.jobs]
        if trigger.source == KAFKA:
            return answers
        if trigger.request is not None:  # API Gateway
            return http_response(_long_poll(answers[0], trigger.request.wait, context, runtime), trigger.request)
        return answers[0]
    except Exception as exc:  # a bug outside one job's answer: still an answer
        return _internal(exc, _now(runtime))


def _log(runtime: Runtime, context: Any, answer: dict[str, Any], seconds: float) -> None:
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    poll = answer.get("poll") if isinstance(answer.get("poll"), dict) else {}
    line = {
        "request_id": context_value(context, "getRequestID"),
        "job_id": answer.get("job_id"),
        "attempt": poll.get("attempt"),
        "status": answer.get("status"),
        "decision": "done" if answer.get("done") else "retry",
        "retry_after": answer.get("retry_after"),
        "error": error.get("type"),
        "http_status": error.get("http_status"),
        "latency_ms": round(seconds * 1000, 1),
    }
    try:
        runtime.log(json.dumps(line, default=str))
    except Exception:  # a broken log sink must not break the answer
        pass
