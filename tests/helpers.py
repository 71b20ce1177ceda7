"""What the tests share besides fixtures: the project, keys and times of the stand-ins, the warm runtime that calls the
handler, the orchestrator's loop around it, and the documented sample events (tests/events/)."""

import base64
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from jobstep.client import new_session
from jobstep.step import Runtime, handle
from jobstep_tools.local import Clock, LocalContext
from jobstep_tools.loop import loop, result_of
from jobstep_tools.simulator import JobSimulator

PROJECT = "0b2c4e6a8f1d43b5a7c9e1f3a5b7c9d1"
# Long-term keys (an IAM user's) and an agency's temporary keys with their token.
AK, SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
TEMP_AK, TEMP_SK = "TEMPAKJOBSTEP0000001", "tempSecretKeyForTheAgency0000000000000000"
TOKEN = "gQpJb2tlbi1vZi10aGUtYWdlbmN5"
SECRETS = (AK, SK, TEMP_AK, TEMP_SK, TOKEN)
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
START = 1_790_000_000.0  # a fixed moment, so every run sees the same times
RUNNING_FOREVER = {"init_seconds": 0, "run_seconds": 10**9}  # a job timeline that never ends
EVENTS = Path(__file__).resolve().parent / "events"  # the documented sample events; README.md there says whence


def refusing_url() -> str:
    """A loopback URL where nothing listens: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def agency(**settings) -> LocalContext:
    """A FunctionGraph context of a function with an agency: its temporary keys and token."""
    return LocalContext(TEMP_AK, TEMP_SK, TOKEN, **settings)


@dataclass
class Harness:
    """One simulator, one warm runtime, and everything the handler logged."""

    simulator: JobSimulator
    clock: Clock
    environ: dict[str, str]
    logs: list[str] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)
    draws: Callable[[], float] = lambda: 0.5
    session: Any = field(default_factory=new_session)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)

    def call(self, event: Any, context: Optional[LocalContext] = None) -> Any:
        runtime = Runtime(session=self.session, environ=self.environ, clock=self.clock, sleep=self.sleep,
                          draw=self.draws, log=self.logs.append)
        answer = handle(event, agency(request_id="req-0001") if context is None else context, runtime)
        json.dumps(answer)  # every answer is JSON, as FunctionGraph returns it
        return answer

    def loop(self, event: Any, limit: Optional[int] = None,
             context: Optional[LocalContext] = None) -> list[dict[str, Any]]:
        """Each answer of the orchestrator's loop that a direct call of `event` starts: each answer fed back after its
        retry_after on the simulated clock, until one says done (or `limit` calls)."""
        return list(loop(event, lambda fed: result_of(self.call(fed, context)), self.clock.advance, limit))

    @property
    def requests(self) -> int:
        return len(self.simulator.seen)


def sample_event(name: str, **fields: Any) -> dict[str, Any]:
    """A fresh copy of the documented sample event tests/events/`name`.json, with `fields` in place of its own."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(fields)
    return event


def kafka_event(*batches: list[str]) -> dict[str, Any]:
    """The documented DMS for Kafka event with one record per batch of messages, each otherwise the documented one."""
    event = sample_event("kafka")
    (record,) = event["records"]
    event["records"] = [{**record, "messages": messages} for messages in batches]
    return event


def apig(path=None, query=None, body=None, encode=True, method=None):
    """An API Gateway event as FunctionGraph delivers it (the body base64-encoded by default): the documented one
    (its headers and requestContext) with this request's method, path, parameters and body."""
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    return sample_event(
        "apig",
        httpMethod=method or ("POST" if body is not None else "GET"),
        path="/jobs" + (f"/{path['job_id']}" if path else ""),
        pathParameters=path or {},
        queryStringParameters=query or {},
        body=base64.b64encode(text.encode()).decode() if encode and text is not None else (text or ""),
        isBase64Encoded=encode and text is not None,
    )


def http(answer):
    """The result inside an API Gateway response, after checking the response's own shape."""
    assert set(answer) == {"statusCode", "headers", "body", "isBase64Encoded"}
    assert isinstance(answer["statusCode"], int) and answer["isBase64Encoded"] is False
    assert answer["headers"]["Content-Type"] == "application/json"
    return json.loads(answer["body"])
