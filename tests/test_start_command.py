"""`jobstep start` against the FunctionGraph stand-in (tests/functiongraph.py) over real HTTP on 127.0.0.1, which
runs the deployed flow itself: its query nodes call the jobstep handler before the loopback job simulator, its
sleeps pass on the simulator's clock, and the command's own sleeps move the clock the stand-in shows the execution
at. Nothing is mocked.

Each test says which mutation of the code it catches."""

import io
import json
import signal

import huaweicloudsdkfunctiongraph.v2 as functiongraph_sdk
import pytest
from functiongraph import FunctionGraphStandIn, Invalid, load
from helpers import AK, PROJECT, SK, START, TEMP_AK, TEMP_SK, TOKEN, agency
from jobstep.services import SERVICES
from jobstep_tools import cli, start
from jobstep_tools.local import Clock
from jobstep_tools.simulator import steady_job
from test_deploy_command import AGENCY, REGION, make_zip, run_deploy

JOB = "4010b39b4fd3d5ff014fd943bac41619"


@pytest.fixture(autouse=True)
def environ(long_term_keys):
    return long_term_keys


@pytest.fixture
def view():
    """The clock the stand-in shows executions at, which the command's sleeps move."""
    return Clock(START)


@pytest.fixture
def functiongraph(harness, view):
    with FunctionGraphStandIn(PROJECT, {AK: (SK, None)}, REGION, harness=harness, clock=view) as server:
        yield server


@pytest.fixture
def deployed(functiongraph, tmp_path):
    """The function and its flow, as `jobstep deploy` makes them."""
    def deploy(*more: str) -> FunctionGraphStandIn:
        code = make_zip(tmp_path / "jobstep-fgs.zip", b"code")
        assert run_deploy("--region", REGION, "--project-id", PROJECT, "--agency", AGENCY, "--zip", str(code),
                          "--endpoint", functiongraph.base_url, *more)[0] == 0
        return functiongraph
    return deploy


class Run:
    def __init__(self, status: int, out: str, err: str, slept: list[float]):
        self.status, self.out, self.err, self.slept = status, out, err, slept

    @property
    def result(self):
        return json.loads(self.out)

    @property
    def lines(self) -> list[str]:
        return self.err.splitlines()


def run_start(functiongraph, view, *words: str, sleep=None) -> Run:
    """The command as the CLI parses it, following with the view clock's sleeps."""
    args = cli.parse(["start", *words, "--region", REGION, "--project-id", PROJECT,
                      "--endpoint", functiongraph.base_url])
    out, err, slept = io.StringIO(), io.StringIO(), []

    def moving(seconds: float) -> None:
        slept.append(seconds)
        (sleep or view.advance)(seconds)

    status = start.follow(args.target, {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}, out, err,
                          cli.exit_code, cli.progress_line, sleep=moving, clock=view)
    return Run(status, out.getvalue(), err.getvalue(), slept)


def executions(functiongraph):
    return list(functiongraph.executions.values())


def test_the_operations_are_the_ones_the_sdk_calls():
    """Catches: a method, path or query name in start's operation table that is not the SDK's."""
    for operation in start.OPERATIONS:
        cls = getattr(functiongraph_sdk, operation.request_model)
        request = cls(**{name: "1" for name in cls.openapi_types if name != "body"})
        info = getattr(functiongraph_sdk.FunctionGraphClient, f"_{operation.client_method}_http_info")(request)
        assert (info["method"], info["resource_path"]) == (operation.method, operation.path)
        assert tuple(name for name, _ in info["query_params"]) == operation.query
        assert cls.openapi_types.get("body") == operation.body_model


def test_a_job_that_succeeds_is_followed_call_by_call_to_its_result_and_exits_0(deployed, harness, view):
    """Catches: a progress line missing or printed twice (the end node carries the result too), a result other than
    the flow's output, the job's event not sent as the flow's input, an exit by a node's status (the stand-in shows
    the last query "fail": its error handling took it) instead of the result's verdict."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, init_seconds=2, run_seconds=6)

    run = run_start(functiongraph, view, JOB)

    (execution,) = executions(functiongraph)
    assert run.status == 0 and execution.input == {"job_id": JOB}
    assert run.result == execution.output and run.result["status"] == "SUCCESS"
    calls = [line for line in run.lines if line.startswith("call ")]
    attempts = run.result["poll"]["attempt"]
    assert [line.split(":")[0] for line in calls] == [f"call {number}" for number in range(1, attempts + 1)]
    assert calls[0].startswith("call 1: INIT") and calls[-1].endswith("SUCCESS  done")
    assert run.lines[0] == (f"flow jobstep-wait: execution {execution.id} started for the job {JOB}, waits up to"
                            " 3600 s")
    assert run.lines[-1].startswith(f"execution {execution.id}: success after ")
    assert [node.status for node in execution.nodes][-2:] == ["fail", "success"]  # the stand-in's hard reading


def test_the_service_reaches_the_flow_and_a_failed_job_exits_1(deployed, harness, view):
    """Catches: --service left out of the flow's input (the function would query ELB's job API and find nothing),
    and a FAIL result exiting 0 because the execution itself succeeded."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, **steady_job("ecs", SERVICES["ecs"], 4.0, "FAIL"))

    run = run_start(functiongraph, view, JOB, "--service", "ecs")

    assert executions(functiongraph)[0].input == {"job_id": JOB, "service": "ecs"}
    assert run.status == 1 and (run.result["service"], run.result["status"]) == ("ecs", "FAIL")


def test_a_job_longer_than_the_flow_ends_with_timeout_and_exits_2(deployed, harness, view):
    """Catches: giving up before the flow does (the bound must cover the flow's own max_wait), or a TIMEOUT result
    exiting 0."""
    functiongraph = deployed("--max-wait", "60")
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=10**6)

    run = run_start(functiongraph, view, JOB)

    assert run.status == 2 and run.result["status"] == "TIMEOUT" and run.result["job"]["status"] == "RUNNING"
    assert sum(run.slept) >= 60 and "waits up to 60 s" in run.lines[0]


def test_it_looks_again_as_the_function_asks_and_never_faster_than_a_second(deployed, harness, view):
    """Catches: a busy loop of ShowWorkflowExecution (no sleep, or sleeps of 0), or ignoring retry_after."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=40)

    run = run_start(functiongraph, view, JOB)

    assert run.status == 0 and min(run.slept) >= 1 and max(run.slept) > 1
    looks = [seen for seen in functiongraph.seen if seen.path.endswith(executions(functiongraph)[0].id)]
    assert len(looks) == len(run.slept) + 1 <= 2 * run.result["poll"]["attempt"]


def test_an_execution_that_never_ends_is_given_up_at_the_flows_bound(deployed, harness):
    """Catches: waiting forever for an execution FunctionGraph keeps running (here its clock stands still), and
    losing the last answer (it resumes with `jobstep poll --resume`)."""
    functiongraph = deployed("--max-wait", "30")
    functiongraph.clock = lambda: START + 5  # FunctionGraph's time stands still: the execution stays running
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=10**6)
    mine = Clock(START)

    run = run_start(functiongraph, mine, JOB, sleep=mine.advance)

    definition = next(iter(functiongraph.workflows.values())).body
    bound = start.bound(definition)
    assert bound == 30 + sum(1 for state in definition["states"] if state["type"] == "Operation") * 30 + 60
    assert run.status == 2 and bound < sum(run.slept) <= bound + start.MOST_BETWEEN
    assert "is still running after" in run.lines[-1] and run.result["done"] is False


def test_ctrl_c_says_it_once_prints_the_last_answer_and_exits_130(deployed, harness, view):
    """Catches: a traceback or exit 2 on Ctrl-C, and losing the last answer, which `jobstep poll --resume` goes on
    from."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=60)
    calls = []

    def interrupting(seconds: float) -> None:
        calls.append(seconds)
        view.advance(seconds)
        if len(calls) == 3:
            raise KeyboardInterrupt

    try:
        run = run_start(functiongraph, view, JOB, sleep=interrupting)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    (execution,) = executions(functiongraph)
    assert run.status == 130 and run.result["done"] is False and run.result["job_id"] == JOB
    assert run.lines[-1] == f"jobstep start: interrupted; the execution {execution.id} goes on in FunctionGraph"
    assert sum("interrupted" in line for line in run.lines) == 1


def test_a_flow_whose_function_is_gone_fails_its_execution_and_exits_2(deployed, view):
    """Catches: a failed execution taken for a verdict (exit 0) or crashing the command when no result exists."""
    functiongraph = deployed()
    functiongraph.functions.clear()  # deleted in the console after the deploy

    run = run_start(functiongraph, view, JOB)

    assert run.status == 2 and run.out == ""
    assert "ended fail: node query 1:" in run.lines[-1] and "not found" in run.lines[-1]


def test_no_flow_of_that_name_is_one_line_that_says_to_deploy(functiongraph, view):
    """Catches: starting some other flow (the name filter matches more), or a traceback."""
    functiongraph.add_workflow("jobstep-wait-old")

    run = run_start(functiongraph, view, JOB)

    assert run.status == 2 and run.out == "" and functiongraph.executions == {}
    assert run.lines == [f"jobstep start: there is no flow named jobstep-wait in the project {PROJECT}"
                         f" ({REGION}): make it with `jobstep deploy`, or pass its --flow-name"]


def test_refused_keys_are_one_line(deployed, view, environ):
    """Catches: an SDK exception escaping as a traceback."""
    functiongraph = deployed()
    functiongraph.keys[AK] = ("not the secret key", None)

    run = run_start(functiongraph, view, JOB)

    assert run.status == 2 and len(run.lines) == 1 and "HTTP 401 APIGW.0301" in run.err


def test_the_cli_runs_it_and_exits_by_the_verdict(harness, tmp_path, environ, capsys):
    """Catches: the command not wired into the CLI, or its exit code not the verdict's (here a job already ended,
    so the flow ends at its first query and nothing sleeps)."""
    with FunctionGraphStandIn(PROJECT, {AK: (SK, None)}, REGION, harness=harness) as functiongraph:
        code = make_zip(tmp_path / "jobstep-fgs.zip", b"code")
        assert run_deploy("--region", REGION, "--project-id", PROJECT, "--agency", AGENCY, "--zip", str(code),
                          "--endpoint", functiongraph.base_url)[0] == 0
        harness.simulator.add_job(JOB, init_seconds=0, run_seconds=0, outcome="FAIL", fail_reason="quota")
        environ.setenv("JOBSTEP_REGION", REGION)
        environ.setenv("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
        capsys.readouterr()

        status = cli.main(["start", JOB, "--endpoint", functiongraph.base_url])

    out, err = capsys.readouterr()
    assert status == 1 and json.loads(out)["status"] == "FAIL" and "call 1: FAIL" in err


@pytest.mark.parametrize("words, says", [
    ([], "the following arguments are required: job_id"),
    ([JOB, "--project-id", "0b2c-4e6a"], "argument --project-id: '0b2c-4e6a' is not a project ID"),
    ([JOB, "--region", "Mars"], "argument --region: 'Mars' is not a region"),
    ([JOB, "--service", "nope"], "argument --service: 'nope' is not a job API"),
    ([JOB, "--flow-name", "a b"], "argument --flow-name: 'a b' is not a flow name"),
    ([JOB, "--endpoint", "http://functiongraph.example.com"], "argument --endpoint: must use https://"),
    ([JOB, "--region", REGION], "give --project-id, or set HUAWEICLOUD_SDK_PROJECT_ID"),
    ([JOB, "--project-id", PROJECT], "give --region (for example ap-southeast-1), or set JOBSTEP_REGION"),
])
def test_a_mistyped_option_is_a_usage_error_naming_it(words, says, capsys):
    """Catches: an option taken without a check (sent to FunctionGraph as typed), or a message naming something
    else than what was typed."""
    with pytest.raises(SystemExit) as exited:
        cli.parse(["start", *words])

    err = capsys.readouterr().err
    assert exited.value.code == 2 and "usage: jobstep start" in err and says in err
    assert err.splitlines()[-1].startswith("jobstep start: error: ")


def test_a_variable_in_the_wrong_shape_is_named(environ, capsys):
    """Catches: HUAWEICLOUD_SDK_PROJECT_ID taken unchecked (a project name instead of its ID)."""
    environ.setenv("HUAWEICLOUD_SDK_PROJECT_ID", "ap-southeast-1")

    with pytest.raises(SystemExit):
        cli.parse(["start", JOB, "--region", REGION])

    assert "HUAWEICLOUD_SDK_PROJECT_ID must be a project ID" in capsys.readouterr().err


# ---- the stand-in runs flows as documented --------------------------------------------------------------------------


def test_the_stand_in_runs_the_states_in_order_with_the_flows_sleeps(deployed, harness, view):
    """Catches (in the stand-in): a flow run that skips a sleep, sleeps another duration, or does not leave by the
    on_errors condition once the job is done."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, init_seconds=1, run_seconds=5)
    began = harness.clock()

    assert run_start(functiongraph, view, JOB).status == 0

    (execution,) = executions(functiongraph)
    states = {state["id"]: state for state in execution.workflow.body["states"]}
    ids = [node.state["id"] for node in execution.nodes]
    assert ids[0] == "query_1" and ids[-1] == "end" and ids[1:-1:2] == [f"sleep_{n}" for n in range(1, len(ids) // 2)]
    slept = [node.end - node.begin for node in execution.nodes if node.state["type"] == "Sleep"]
    assert slept == [states[i]["duration"] for i in ids if i.startswith("sleep")]
    assert harness.clock() - began == execution.lasts == sum(slept) and len(ids) < len(states)


def test_the_stand_in_shows_node_outputs_only_to_who_asks_for_the_full_history(deployed, harness, view):
    """Catches (in the stand-in): answers that spare the command from asking for the full history (it would then
    print no progress on FunctionGraph)."""
    functiongraph = deployed()
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=0)
    run_start(functiongraph, view, JOB)
    (execution,) = executions(functiongraph)
    functiongraph._headers = {}

    answer = functiongraph._show_execution({"id": execution.workflow.id, "execution": execution.id}, {}, None)[1]

    assert answer["status"] == "success" and answer["output"]["done"] is True
    assert all("output" not in run for detail in answer["node_execution_details"] for run in detail["executions"])


def test_the_stand_in_reads_an_execution_body_strictly():
    """Catches (in the stand-in): an execution body the real API would refuse, taken."""
    with pytest.raises(Invalid, match="unknown field"):
        load("FlowExecuteBody", {"input": {"job_id": JOB}, "job_id": JOB})
    with pytest.raises(Invalid, match="lacks the required field"):
        load("FlowExecuteBody", {"headers": {}})


def test_the_stand_in_runs_a_function_without_agency_without_keys(deployed, harness, view):
    """Catches (in the stand-in): a function run with keys FunctionGraph would not give it (no agency, no keys:
    the handler answers ERROR / credentials)."""
    functiongraph = deployed()
    name = next(iter(functiongraph.functions))
    function = functiongraph.functions[name]
    functiongraph.functions[name] = function._replace(settings={**function.settings, "xrole": ""})
    harness.simulator.add_job(JOB, init_seconds=0, run_seconds=0)
    assert agency().getSecurityToken() == TOKEN and (TEMP_AK, TEMP_SK)  # what an agency would have given

    run = run_start(functiongraph, view, JOB)

    assert run.status == 2 and run.result["status"] == "ERROR" and run.result["error"]["type"] == "credentials"
