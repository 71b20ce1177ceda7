"""A warm instance under load and over a long life: concurrent calls stay independent, ten thousand
calls leave memory, descriptors and connections flat, and rotated agency keys apply at once."""

import gc
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import agency
from jobstep import client
from jobstep.client import new_session
from jobstep.step import Runtime, handle
from jobstep_tools.local import LocalContext

pytestmark = pytest.mark.slow  # real load: a second and more each

THREADS = 16
CALLS = 10_000


def expected_status(index: int) -> str:
    return ("RUNNING", "SUCCESS", "FAIL")[index % 3]


def test_concurrent_calls_on_one_warm_instance_get_correct_independent_results(harness):
    for index in range(48):
        harness.simulator.add_job(f"job-{index}", init_seconds=0, run_seconds=10**9 if index % 3 == 0 else 0,
                                  outcome=expected_status(index))
    runtime = Runtime(session=new_session(), environ=harness.environ, clock=harness.clock, log=harness.logs.append)

    def call(number: int):
        index = number % 48
        context = agency(request_id=f"req-{number}")
        return number, handle({"job_id": f"job-{index}"}, context, runtime)

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(call, range(960)))

    for number, answer in answers:
        index = number % 48
        assert answer["job_id"] == f"job-{index}" and answer["job"]["job_id"] == f"job-{index}"
        assert answer["status"] == expected_status(index)
        assert (answer["error"] or {}).get("type") == ("job_failed" if answer["status"] == "FAIL" else None)
        assert answer["poll"]["attempt"] == 1
    logged = {(line["request_id"], line["job_id"]) for line in map(json.loads, harness.logs)}
    assert logged == {(f"req-{number}", f"job-{number % 48}") for number, _ in answers}
    assert all(seen.verdict is None for seen in harness.simulator.seen)  # every signature checked out


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def settled() -> None:
    """Waits until no request that an earlier test abandoned is still running: its socket would close mid-count."""
    deadline = time.monotonic() + 10
    while client._POOL.abandoned and time.monotonic() < deadline:
        time.sleep(0.05)


def test_ten_thousand_calls_leave_memory_descriptors_and_connections_flat_as_keys_rotate(harness):
    settled()
    keys = [(f"ROTATEDAK{n:011d}", f"rotated-secret-{n}", f"rotated-token-{n}") for n in range(4)]
    harness.simulator.keys.update({ak: (sk, token) for ak, sk, token in keys})
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=10**9)
    lines = []
    runtime = Runtime(session=new_session(), environ=harness.environ, clock=harness.clock, log=lines.append)
    context = LocalContext(*keys[0], timeout=60, request_id="req-life")
    samples, used = {}, set()

    for number in range(1, CALLS + 1):
        if number % 2500 == 0:  # the runtime hands the function new temporary keys
            context.ak, context.sk, context.token = keys[number // 2500 % len(keys)]
        answer = handle({"job_id": "job-1"}, context, runtime)
        assert answer["status"] == "RUNNING" and answer["error"] is None
        used.add(harness.simulator.seen[-1].headers["Authorization"].split("Access=")[1].split(",")[0])
        if number % 1000 == 0:
            harness.simulator.seen.clear()  # the simulator's own record is not the function's memory
            lines.clear()
            gc.collect()
            samples[number] = (len(gc.get_objects()), open_descriptors())

    objects = [count for count, _ in samples.values()]
    print("gc objects and descriptors every 1000 calls:", list(samples.values()))
    assert max(objects[1:]) - objects[1] < 100  # after the first thousand, no growth
    assert len({fds for _, fds in samples.values()}) == 1
    assert harness.simulator.connections == 1  # one kept-alive connection all along
    assert used == {ak for ak, _, _ in keys}  # every rotated key signed, from the call it arrived
