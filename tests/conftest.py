"""Shared set-up: the loopback job API on a simulated clock, and a warm runtime that calls the handler."""

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from hypothesis import settings
from jobstep.client import new_session
from jobstep.step import Runtime, handle
from jobstep_tools.local import Clock, LocalContext
from jobstep_tools.simulator import JobSimulator

# The same examples on every run and every machine: a failure seen once is seen again.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")

PROJECT = "0b2c4e6a8f1d43b5a7c9e1f3a5b7c9d1"
# Long-term keys (an IAM user's) and an agency's temporary keys with their token.
AK, SK = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
TEMP_AK, TEMP_SK = "TEMPAKJOBSTEP0000001", "tempSecretKeyForTheAgency0000000000000000"
TOKEN = "gQpJb2tlbi1vZi10aGUtYWdlbmN5"
SECRETS = (AK, SK, TEMP_AK, TEMP_SK, TOKEN)
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
START = 1_790_000_000.0  # a fixed moment, so every run sees the same times
RUNNING_FOREVER = {"init_seconds": 0, "run_seconds": 10**9}  # a job timeline that never ends


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

    @property
    def requests(self) -> int:
        return len(self.simulator.seen)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def harness(clock: Clock):
    keys = {AK: (SK, None), TEMP_AK: (TEMP_SK, TOKEN)}
    with JobSimulator(PROJECT, keys, clock=clock) as simulator:
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT}
        harness = Harness(simulator, clock, environ)
        yield harness
        harness.session.close()  # its connections close now, not when a later test happens to collect them
