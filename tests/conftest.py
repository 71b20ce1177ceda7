"""The fixtures: the loopback job API on a simulated clock, and a warm runtime that calls the handler. What the tests
share besides fixtures is in helpers.py."""

import os

import pytest
from helpers import AK, PROJECT, SK, START, TEMP_AK, TEMP_SK, TOKEN, Harness
from hypothesis import settings
from jobstep.client import new_session
from jobstep.step import Runtime
from jobstep_tools.local import Clock
from jobstep_tools.simulator import JobSimulator

# The same examples on every run and every machine: a failure seen once is seen again.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.load_profile("deterministic")


@pytest.fixture
def long_term_keys(monkeypatch):
    """For the deploy and start commands: long-term keys in the SDK's variables, and nothing else of this machine's
    environment that they read (no other HUAWEICLOUD_SDK_ or JOBSTEP_ variable)."""
    for name in list(os.environ):
        if name.startswith(("HUAWEICLOUD_SDK_", "JOBSTEP_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", AK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SK)
    return monkeypatch


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


@pytest.fixture(scope="module")
def world():
    """One simulator and one warm runtime for a whole module (test_events, test_config), and the handler's log
    lines. (test_round_trip has a world of its own, with an API Gateway in front.)"""
    clock = Clock(START)
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock) as simulator:
        logs = []
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT}
        runtime = Runtime(session=new_session(), environ=environ, clock=clock, draw=lambda: 0.5, log=logs.append)
        yield simulator, runtime, logs
