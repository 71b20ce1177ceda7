"""The jobstep command: demo, poll and invoke, run as a user runs them."""

import io
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import AK, PROJECT, SK
from jobstep_tools import cli
from jobstep_tools.simulator import JobSimulator


@pytest.fixture
def live():
    """A simulator on real time, and the environment a user would set for it."""
    with JobSimulator(PROJECT, {AK: (SK, None)}) as simulator:
        environ = {**os.environ, "JOBSTEP_ENDPOINT": simulator.base_url, "HUAWEICLOUD_SDK_AK": AK,
                   "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT}
        environ.pop("RUNTIME_PROJECT_ID", None)
        yield simulator, environ


def jobstep(*args, environ=None, stdin=None):
    return subprocess.run([sys.executable, "-m", "jobstep_tools.cli", *args], capture_output=True, text=True,
                          env=environ, input=stdin, timeout=60)


def test_demo_shows_the_loop_from_init_through_running_to_success():
    done = jobstep("demo")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    calls = [line.split()[2] for line in lines if line.startswith("  call ")]
    assert calls[0] == "INIT" and "RUNNING" in calls and calls[-1] == "SUCCESS"
    assert f"{len(calls)} signed requests, 0 rejected" in done.stdout
    final = json.loads(done.stdout[done.stdout.index("\n{") :])
    assert final["done"] and final["status"] == "SUCCESS" and final["poll"]["attempt"] == len(calls)
    # The live progress line: the demo job's sub-jobs end one by one. Catches: progress left out of the line.
    shown = [line[line.index("sub-jobs"):].split()[1] for line in lines if "sub-jobs" in line and "call" in line]
    assert shown[0] == "0/4" and shown[-1] == "4/4" and "[##########] 100%" in lines[len(calls) + 1]
    assert any(" left " in line for line in lines)


@pytest.mark.parametrize("timeline, args, code, status", [
    ({"init_seconds": 0, "run_seconds": 0.5}, [], 0, "SUCCESS"),
    ({"init_seconds": 0, "run_seconds": 0, "outcome": "FAIL", "fail_reason": "quota"}, [], 1, "FAIL"),
    ({"init_seconds": 0, "run_seconds": 600}, ["--max-wait", "1"], 2, "TIMEOUT"),
    (None, [], 2, "ERROR"),
])
def test_poll_loops_until_the_end_and_exits_by_the_final_status(live, timeline, args, code, status):
    simulator, environ = live
    if timeline:
        simulator.add_job("job-1", **timeline)

    done = jobstep("poll", "job-1", *args, environ={**environ, "JOBSTEP_NOT_FOUND_GRACE": "0"})

    assert done.returncode == code, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == status and result["done"]
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    assert [entry["attempt"] for entry in logged] == list(range(1, result["poll"]["attempt"] + 1))


def test_poll_takes_region_and_project_from_its_options(live):
    simulator, environ = live
    simulator.add_job("job-1", init_seconds=0, run_seconds=0)
    environ.pop("HUAWEICLOUD_SDK_PROJECT_ID")

    done = jobstep("poll", "job-1", "--project-id", PROJECT, "--region", "eu-west-101", environ=environ)

    result = json.loads(done.stdout)
    assert done.returncode == 0 and (result["project_id"], result["region"]) == (PROJECT, "eu-west-101")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_poll_shows_a_progress_line_per_call_on_a_terminal(live, monkeypatch):
    simulator, environ = live
    simulator.add_job("job-1", init_seconds=0.2, run_seconds=0.3)
    for name in ("JOBSTEP_ENDPOINT", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_PROJECT_ID"):
        monkeypatch.setenv(name, environ[name])
    out, err = io.StringIO(), Terminal()
    args = cli.parser().parse_args(["poll", "job-1"])

    code = cli.poll(args, out, err, sleep=lambda seconds: time.sleep(0.2))

    progress = err.getvalue().splitlines()
    assert code == 0 and progress[0].startswith("call 1: INIT") and "ask again in" in progress[0]
    assert progress[-1].startswith(f"call {len(progress)}: SUCCESS") and progress[-1].endswith("done")
    assert json.loads(out.getvalue())["status"] == "SUCCESS"


def test_invoke_answers_one_event_from_a_file(live, tmp_path):
    simulator, environ = live
    simulator.add_job("job-1", init_seconds=0, run_seconds=60)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"job_id": "job-1"}))

    done = jobstep("invoke", str(event), environ=environ)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "RUNNING" and not result["done"] and result["poll"]["attempt"] == 1
    assert len(simulator.seen) == 1


def test_invoke_reads_standard_input_and_answers_invalid_input(live):
    done = jobstep("invoke", "-", environ=live[1], stdin='{"job_id": "../x"}')

    assert done.returncode == 2 and json.loads(done.stdout)["error"]["type"] == "invalid_input"


def test_invoke_reports_a_file_that_is_not_json(tmp_path):
    event = tmp_path / "event.json"
    event.write_text("{job_id: 1")

    done = jobstep("invoke", str(event))

    assert done.returncode == 2 and "cannot read a JSON event" in done.stderr
