"""The jobstep command: demo, poll and invoke, run as a user runs them."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from helpers import AK, PROJECT, SK, kafka_event
from hypothesis import given, settings
from hypothesis import strategies as st
from jobstep.model import MAX_JOBS
from jobstep.services import SERVICES
from jobstep_tools import cli, command
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


@pytest.mark.slow
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
    # The final result on one line: the progress lines stay on a screen. Catches: 111 lines of indented JSON.
    assert len(lines) == len(calls) + 4 and "job" not in final


@pytest.mark.slow
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


@pytest.mark.slow
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
    args = cli.parse(["poll", "job-1"])

    code = cli.poll(args, out, err, sleep=lambda seconds: time.sleep(0.2))

    progress = err.getvalue().splitlines()
    assert code == 0 and progress[0].startswith("call 1: INIT") and "ask again in" in progress[0]
    assert progress[-1].startswith(f"call {len(progress)}: SUCCESS") and progress[-1].endswith("done")
    assert json.loads(out.getvalue())["status"] == "SUCCESS"


@pytest.mark.parametrize("fraction", [float("nan"), 1e308, -5])
def test_a_hand_edited_result_resumed_on_a_terminal_shows_a_line_not_a_traceback(fraction):
    # A finished result whose progress was edited (NaN is what Python's JSON writes for a float that is not a
    # number). Catches: the progress bar drawn from it (ValueError or OverflowError out of round()).
    result = {"job_id": "job-1", "done": True, "status": "SUCCESS", "poll": {"attempt": 3},
              "progress": {"fraction": fraction, "source": "percent", "sub_jobs": None, "eta_seconds": None}}
    out, err = io.StringIO(), Terminal()

    code = cli.poll(cli.parse(["poll", "--resume", json.dumps(result)]), out, err)

    assert code == 0 and err.getvalue().startswith("call 3: SUCCESS") and "Traceback" not in err.getvalue()
    assert json.loads(out.getvalue())["progress"] is None


@pytest.mark.slow
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


@pytest.mark.slow
def test_invoke_reads_standard_input_and_answers_invalid_input(live):
    done = jobstep("invoke", "-", environ=live[1], stdin='{"job_id": "../x"}')

    assert done.returncode == 2 and json.loads(done.stdout)["error"]["type"] == "invalid_input"


@pytest.mark.slow
def test_invoke_reports_a_file_that_is_not_json(tmp_path):
    event = tmp_path / "event.json"
    event.write_text("{job_id: 1")

    done = jobstep("invoke", str(event))

    assert done.returncode == 2 and "cannot read a JSON event" in done.stderr


# A careless user's inputs (issue 13): each is refused or answered with one line that names what was typed, the exit
# code says how it went, and no traceback shows. The stand-in here is the shell: a subprocess, as a user runs it.
APIG_BAD = {"httpMethod": "GET", "path": "/jobs/..", "pathParameters": {"job_id": ".."}, "queryStringParameters": {},
            "headers": {"host": "api.example.com"}, "body": "", "isBase64Encoded": False}
KAFKA = kafka_event(['{"job_id": "job-1"}', '{"job_id": "job-2"}'])


@pytest.mark.slow
@pytest.mark.parametrize("args, stdin, code, says", [
    (["poll", "job-1", "--max-wait", "0"], None, 2, "argument --max-wait: must be from 1"),
    (["poll", "job-1", "--max-wait", "-3"], None, 2, "argument --max-wait: must be from 1"),
    (["poll", "job-1", "--max-wait", "soon"], None, 2, "argument --max-wait: 'soon' is not"),
    (["poll", "../etc"], None, 2, "argument JOB_ID: '../etc' is not a job id"),
    (["poll"], None, 2, "give a JOB_ID (or several), or --resume"),
    (["poll", "job-1", "--job-fails"], None, 2, "--job-fails: only a simulated job"),
    (["poll", "--resume", "-", "--region", "ap-southeast-1"], "{}", 2, "--region cannot change a resumed loop"),
    (["poll", "--resume", "{not json"], None, 2, "cannot read a JSON event from the inline JSON"),
    (["poll", "job-1", "--service", "No Such"], None, 2, "argument --service: 'No Such' is not a job API"),
    (["flow", "--function-urn", "not a urn"], None, 2, "argument --function-urn: 'not a urn' is not a function URN"),
    (["flow", "--function-urn", "urn:fss:r:p:function:default:jobstep", "--max-wait", "-5"], None, 2,
     "argument --max-wait"),
    (["poll", "--resume", json.dumps(KAFKA)], None, 2, "--resume takes a result that jobstep printed"),
    (["invoke", "[" * 100_000], None, 2, "cannot read a JSON event from the inline JSON"),
    (["invoke", "/no/such/event.json"], None, 2, "cannot read a JSON event from /no/such/event.json"),
    (["invoke", "-"], "", 2, "cannot read a JSON event from -"),
    (["invoke", json.dumps(APIG_BAD), "--simulate"], None, 2, '"statusCode": 400'),
    (["invoke", json.dumps(KAFKA), "--simulate", "--job-seconds", "0"], None, 0, '"status": "SUCCESS"'),
    (["invoke", json.dumps(KAFKA), "--simulate", "--job-seconds", "0", "--job-fails"], None, 1, '"status": "FAIL"'),
    (["invoke", '{"job_id": "job-1"}', "--simulate", "--job-seconds", "-1"], None, 2, "argument --job-seconds"),
    (["package", "--out", "/proc/no-such-place/x.zip"], None, 2, "jobstep package:"),
    # Options in the command's terms (issue 19). Catches: a value left for the handler to refuse (a 24-line ERROR
    # result speaking of event fields), the top-level usage for a subcommand's mistyped option, a bare job id read
    # as a file without a hint, a project or region missing said as "pass project_id in the event".
    (["poll", "job-1", "--region", "evil.com/"], None, 2, "argument --region: 'evil.com/' is not a region"),
    (["poll", "job-1", "--service", "nope"], None, 2, "argument --service: 'nope' is not a job API; choose from elb,"),
    (["poll", "job-1", "--project-id", "bad/x"], None, 2, "argument --project-id: 'bad/x' is not a project ID"),
    (["poll", "job-1", "--regoin", "ap-southeast-1"], None, 2, "usage: jobstep poll"),
    (["poll", "job-1"], None, 2, "give --project-id, or set HUAWEICLOUD_SDK_PROJECT_ID"),
    (["poll", "job-1", "--project-id", PROJECT], None, 2, "give --region (for example ap-southeast-1)"),
    (["invoke", "4010b39b4fd3d5ff"], None, 2, "run jobstep poll 4010b39b4fd3d5ff, or give its event inline"),
    (["flow", "--function-urn", "urn:fss:r:p:function:default:jobstep", "--max-wait", "99999"], None, 2,
     "argument --max-wait: 99999 s, but a flow of at most 100 states waits at most"),
    (["nonsense"], None, 2, "invalid choice: 'nonsense'"),
    # Several jobs in one wait (issue 21). Catches: a group's limits left to the handler (an ERROR result rather
    # than a usage line), --until ignored for one job or a resumed loop, a group's verdict not its exit code.
    (["poll", "job-1", "job-1", "--simulate"], None, 2, "a job is named twice"),
    (["poll", "job-1", "--until", "any", "--simulate"], None, 2, "--until is for several jobs"),
    (["poll", *(f"job-{n}" for n in range(MAX_JOBS + 1)), "--simulate"], None, 2, f"at most {MAX_JOBS} jobs"),
    (["poll", "--resume", "-", "--until", "any"], "{}", 2, "--until cannot change a resumed loop"),
    (["poll", "job-1", "job-2", "--simulate", "--job-seconds", "0", "--job-fails"], None, 1,
     "Job job-1 of the group's 2 ended FAIL"),
    (["poll", "job-1", "job-2", "--until", "any", "--simulate", "--job-seconds", "0"], None, 0, '"until": "any"'),
])
def test_a_careless_input_gets_one_clear_line_and_no_traceback(args, stdin, code, says, monkeypatch):
    for name in ("HUAWEICLOUD_SDK_PROJECT_ID", "RUNTIME_PROJECT_ID", "JOBSTEP_REGION", "JOBSTEP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # as on a machine where nothing is set
    # Catches: a check left to the handler (it would name poll.max_wait), a list or API Gateway answer read as a
    # result (the AttributeError of a Kafka batch, exit 0 for a 400), an option silently ignored (--max-wait 0).
    done = jobstep(*args, stdin=stdin)

    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == code, done.stderr
    assert says in done.stderr + done.stdout


@pytest.mark.slow
def test_version_is_the_installed_packages():
    from importlib.metadata import version
    # Catches: jobstep.__version__ and pyproject's version drifting apart (the CLI prints the former).

    done = jobstep("--version")

    assert done.returncode == 0 and done.stdout.split() == ["jobstep", version("jobstep")]


def _until_answered(process):
    """Two JSON log lines of a running `jobstep poll`: the second call is under way, so the first answer is the
    loop's state (a log line is written inside the call, before the loop holds its answer)."""
    for _ in range(2):
        line = process.stderr.readline()
        assert line.startswith("{"), line


@pytest.mark.slow
@pytest.mark.parametrize("command", [["poll", "job-1"], ["demo"]])
def test_ctrl_c_stops_cleanly_and_leaves_a_result_that_resumes_the_loop(command, tmp_path):
    # Catches: a KeyboardInterrupt traceback, an exit code other than the shell's 130, and (poll) a last result
    # that is not the loop's state: the resumed loop must go on counting from it.
    options = ["--simulate", "--job-seconds", "600"] if command[0] == "poll" else []
    process = subprocess.Popen([sys.executable, "-m", "jobstep_tools.cli", *command, *options], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if command[0] == "poll":
        _until_answered(process)
    else:
        assert process.stdout.readline().startswith("jobstep demo:")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130 and "Traceback" not in err and "interrupted" in err
    if command[0] == "demo":
        return
    state = json.loads(out)
    assert not state["done"] and state["poll"]["attempt"] >= 1
    saved = tmp_path / "state.json"
    saved.write_text(out)

    resumed = jobstep("poll", "--resume", str(saved), "--simulate", "--job-seconds", "0")

    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "SUCCESS" and final["poll"]["attempt"] == state["poll"]["attempt"] + 1
    assert final["poll"]["started_at"] == state["poll"]["started_at"]


@pytest.mark.slow
def test_each_call_of_a_poll_is_its_own_invocation():
    # FunctionGraph gives every invocation its own request id and its own time budget. Catches: one context for
    # the whole loop, whose budget runs out after 30 s so that every later call answers "too little time left".
    done = jobstep("poll", "job-1", "--simulate", "--job-seconds", "2")

    logged = [json.loads(line) for line in done.stderr.splitlines()]
    assert done.returncode == 0 and len(logged) >= 2
    assert len({entry["request_id"] for entry in logged}) == len(logged)


@pytest.mark.slow
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_simulate_runs_a_job_of_every_service_to_its_end(service):
    # The simulated job speaks its service's own words (statuses, shapes, progress scale). Catches: an ending word
    # the service's entry does not know (the loop would run on to TIMEOUT), a progress served on the wrong scale or
    # at the wrong place (the end would not read 100 %).
    out, err = io.StringIO(), io.StringIO()
    args = cli.parse(["poll", "job-1", "--service", service, "--simulate", "--job-seconds", "0.3", "--max-wait", "60"])

    code = cli.poll(args, out, err, sleep=lambda seconds: time.sleep(min(seconds, 0.08)))

    result = json.loads(out.getvalue())
    assert code == 0 and result["status"] == "SUCCESS" and result["service"] == service, err.getvalue()
    if "job_type" in dict(SERVICES[service].fields):  # Catches: an ECS job of type deleteELB
        assert result["job"]["job_type"] == "simulated"
    reports = {"progress", "sub_jobs"} & set(dict(SERVICES[service].fields))  # what its registry entry maps
    assert (result["progress"] or {}).get("fraction") == (1.0 if reports else None)


@pytest.mark.slow
def test_simulate_fails_a_job_with_its_reason_and_exit_code_1():
    # Catches: --job-fails ignored, or the service's failure word unknown to its entry (the loop would go on).
    done = jobstep("poll", "job-1", "--simulate", "--job-seconds", "0", "--job-fails", "--service", "rds")

    result = json.loads(done.stdout)
    assert done.returncode == 1 and result["status"] == "FAIL" and "a simulated failure" in result["error"]["message"]


@pytest.mark.slow
def test_a_silent_simulated_job_shows_no_progress():
    # Catches: --job-silent ignored (the steady percent and sub-jobs served anyway).
    done = jobstep("invoke", '{"job_id": "job-1", "service": "ecs"}', "--simulate", "--job-seconds", "0",
                   "--job-silent")

    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["status"] == "SUCCESS" and result["progress"] is None


@pytest.mark.slow
def test_poll_shows_a_simulated_jobs_progress_as_it_goes(monkeypatch):
    # Catches: a simulated percent that does not rise with time, or the progress line left out on a terminal.
    out, err = io.StringIO(), Terminal()
    args = cli.parse(["poll", "job-1", "--service", "rds", "--simulate", "--job-seconds", "3"])

    assert cli.poll(args, out, err, sleep=lambda seconds: time.sleep(min(seconds, 0.6))) == 0

    percents = [int(line.split("%")[0].split()[-1]) for line in err.getvalue().splitlines() if "%" in line]
    assert len(percents) >= 3 and percents == sorted(percents) and 0 < percents[-2] < 100 == percents[-1]


OPTIONS = ["--max-wait", "--service", "--region", "--project-id", "--resume", "--job-seconds", "--function-urn",
           "--out", "--simulate", "--job-fails", "--job-silent", "--version", "--dry-run", "--agency", "--name"]


@settings(max_examples=300)
@given(command=st.sampled_from(["demo", "poll", "invoke", "package", "flow", "deploy", "x"]),
       words=st.lists(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=12)), max_size=6))
def test_any_command_line_is_read_or_refused_with_a_usage_line(command, words):
    # Catches: an option's check that raises (a ValueError from a converter, a None where a rule expects a value)
    # instead of argparse's "error: ..." and exit 2.
    try:
        cli.parse([command, *words])
    except SystemExit as exc:
        assert exc.code in (0, 2)


def test_a_flow_longer_than_a_flow_can_wait_is_refused_whether_from_the_option_or_the_variable(monkeypatch):
    # Catches: JOBSTEP_MAX_WAIT=7200 silently printing a flow that waits 4661 s while --max-wait 99999 is refused.
    monkeypatch.setenv("JOBSTEP_MAX_WAIT", "7200")

    done = jobstep("flow", "--function-urn", "urn:fss:r:p:function:default:jobstep")

    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert "usage: jobstep flow" in done.stderr and "JOBSTEP_MAX_WAIT is 7200 s, but a flow" in done.stderr
    assert "a timer trigger or an API Gateway client" in done.stderr


@pytest.mark.parametrize("target, written", [
    ("out.zip", "out.zip"),
    ("new/", "new/jobstep-fgs.zip"),  # Catches: a file named `new` (issue 19)
    ("exists", "exists/jobstep-fgs.zip"),
])
def test_package_out_is_a_file_or_a_folder(tmp_path, monkeypatch, target, written):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists").mkdir()

    assert cli.zip_path(target) == Path(written)


@pytest.mark.slow
def test_a_reader_that_stops_reading_is_not_a_failure():
    # `jobstep demo | head -3`. Catches: exit 1, which means FAIL (the shell's 141 is what a closed pipe ends).
    process = subprocess.Popen([sys.executable, "-m", "jobstep_tools.cli", "demo"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("jobstep demo:")
    process.stdout.close()
    err = process.stderr.read()

    assert process.wait(timeout=30) == cli.CLOSED_PIPE and "Traceback" not in err


class Interrupting(types.ModuleType):
    """A module that is being loaded when Ctrl-C comes: reading anything of it raises KeyboardInterrupt."""

    def __getattr__(self, name):
        raise KeyboardInterrupt


def test_ctrl_c_while_the_cli_loads_says_so_once(monkeypatch, capsys):
    # Catches: a traceback from an interrupt in the CLI's imports, and a second Ctrl-C printing "interrupted" again
    # (after the first, SIGINT is ignored while the command says so and exits).
    monkeypatch.setitem(sys.modules, "jobstep_tools.cli", Interrupting("jobstep_tools.cli"))
    before = signal.getsignal(signal.SIGINT)
    try:
        code = command.main()
        ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)

    assert code == 130 and ignored and capsys.readouterr().err == "jobstep: interrupted\n"


@pytest.mark.slow
def test_a_group_printed_while_it_runs_resumes_to_its_end(tmp_path):
    # Catches: --resume refusing a group's result (it has no job_id), or a resumed group that asks its jobs anew.
    started = jobstep("invoke", json.dumps({"job_ids": ["job-1", "job-2"]}), "--simulate", "--job-seconds", "2")
    state = json.loads(started.stdout)
    assert started.returncode == 0 and not state["done"] and len(state["jobs"]) == 2
    (tmp_path / "group.json").write_text(started.stdout)

    resumed = jobstep("poll", "--resume", str(tmp_path / "group.json"), "--simulate", "--job-seconds", "0")

    assert resumed.returncode == 0, resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["status"] == "SUCCESS" and [job["poll"]["attempt"] for job in final["jobs"]] == [2, 2]
