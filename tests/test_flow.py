"""The function flow in flows/: a valid workflows-API body that walks the real step to the job's end."""

import io
import json
from pathlib import Path
from typing import Any

import huaweicloudsdkfunctiongraph.v2.model as models
import pytest
from helpers import RUNNING_FOREVER
from jobstep.policy import Policy
from jobstep_tools import cli
from jobstep_tools.flow import MAX_STATES, definition, longest_wait

FLOW_FILE = Path(__file__).resolve().parent.parent / "flows" / "jobstep-wait.json"
URN = "urn:fss:REGION:PROJECT_ID:function:default:jobstep:latest"


def to_model(kind: str, data: Any) -> Any:
    """Build the SDK's model from JSON, refusing any key the workflows API does not define."""
    if kind.startswith("list["):
        return [to_model(kind[5:-1], item) for item in data]
    if kind in ("str", "int", "bool", "object"):
        return data
    cls = getattr(models, kind)
    names = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
    unknown = set(data) - set(names)
    assert not unknown, f"{kind} has no field {unknown}"
    return cls(**{names[key]: to_model(cls.openapi_types[names[key]], value) for key, value in data.items()})


def lookup(path: str, root: Any) -> tuple[bool, Any]:
    assert path.startswith("$"), path
    value = root
    for key in filter(None, path[1:].split(".")):
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def argument(expression: str, data: Any, constants: dict[str, Any]) -> Any:
    """`path | default`: the path into the node's input, else the default (a literal or a $CONST path)."""
    path, _, default = (part.strip() for part in expression.partition("|"))
    found, value = lookup(path, data)
    if found or not default:
        return value
    if default.startswith("$CONST"):
        return lookup("$" + default[len("$CONST"):], constants)[1]
    return json.loads(default.replace("'", '"'))


def matches(condition: str, output: Any) -> bool:
    path, operator, literal = condition.split()
    assert operator == "=="
    return lookup(path, output)[1] == json.loads(literal)


def walk(body: Any, flow_input: dict[str, Any], harness) -> tuple[list[str], Any]:
    """Run the flow as the engine does: each query gets its input through its arguments, each sleep
    advances the simulated clock, error handling is checked on a query's output."""
    states = {state.id: state for state in body.states}
    path, data, current = [], flow_input, body.start
    while True:
        assert current not in path, "a flow is a DAG: no state runs twice"
        path.append(current)
        state = states[current]
        if state.type == "End":
            return path, data
        if state.type == "Sleep":
            harness.clock.advance(state.duration)
            current = state.transition
            continue
        assert state.type == "Operation" and len(state.actions) == 1
        call = state.actions[0].function_ref
        assert call.ref_name in {function.name for function in body.functions} and call.invoke_mode == "sync"
        data = harness.call({name: argument(expr, data, body.constants) for name, expr in call.arguments.items()})
        handled = [on_error for on_error in state.on_errors or [] if matches(on_error.error, data)]
        current = handled[0].transition if handled else state.transition


@pytest.fixture(scope="module")
def flow():
    body = to_model("WorkflowCreateBody", json.loads(FLOW_FILE.read_text()))
    models.CreateWorkflowRequest(body=body)  # what the SDK's create_workflow call takes
    return body


def test_the_committed_flow_is_what_jobstep_flow_makes_for_the_default_policy(monkeypatch):
    for name in ("JOBSTEP_MAX_WAIT", "JOBSTEP_MIN_DELAY", "JOBSTEP_MAX_DELAY", "JOBSTEP_DELAY_GROWTH"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()

    assert cli.flow(URN, cli.parse(["flow", "--function-urn", URN]).max_wait, out) == 0
    assert json.loads(out.getvalue()) == json.loads(FLOW_FILE.read_text())


def test_a_flow_longer_than_the_state_limit_allows_is_refused_saying_what_fits(capsys):
    # Catches: a wait longer than a flow can hold, printed as a shorter flow or refused without saying what fits.
    with pytest.raises(SystemExit) as refused:
        cli.parse(["flow", "--function-urn", URN, "--max-wait", str(longest_wait(Policy()) + 1)])

    assert refused.value.code == 2 and f"at most {longest_wait(Policy())} s" in capsys.readouterr().err


@pytest.mark.parametrize("max_wait", [1, 30, 600])
def test_a_shorter_flow_ends_its_chain_at_max_wait(max_wait):
    body = definition(URN, Policy(), max_wait)

    assert sum(state["duration"] for state in body["states"] if state["type"] == "Sleep") == max_wait
    assert body["constants"]["poll"]["max_wait"] == max_wait


def test_the_flow_is_a_dag_the_api_accepts(flow):
    ids = [state.id for state in flow.states]
    assert len(ids) == len(set(ids)) <= MAX_STATES and flow.start in ids
    for state in flow.states:
        targets = [state.transition] + [on_error.transition for on_error in state.on_errors or []]
        assert all(target in ids for target in targets if target)
        assert all(ids.index(target) > ids.index(state.id) for target in targets if target)  # edges go forward
        if state.type == "Sleep":
            assert 0.001 <= state.duration <= 86400
    assert [state.type for state in flow.states if state.end] == ["End"]


def test_the_flow_walks_the_step_to_success_and_leaves_when_done(flow, harness):
    harness.simulator.add_job("job-1", init_seconds=2, run_seconds=30)

    path, output = walk(flow, {"job_id": "job-1"}, harness)

    assert output["status"] == "SUCCESS" and output["done"]
    assert path[0] == "query_1" and path[-1] == "end"
    assert path[1:-1:2] == [f"sleep_{n}" for n in range(1, len(path) // 2)]  # query, sleep, query, … end
    assert output["poll"]["attempt"] == len(path) // 2 == harness.requests
    assert len(path) < len(flow.states) / 2  # left early, not at the end of the chain


def test_the_flow_walks_a_group_to_the_end_of_its_last_job(flow, harness):
    # A group's input and answers pass through the query nodes' arguments. Catches: a flow that drops jobs, job_ids
    # or until (the second query would see one job_id: null, or the group waiting for "all" of "any").
    harness.simulator.add_job("a", init_seconds=0, run_seconds=20)
    harness.simulator.add_job("b", **RUNNING_FOREVER)

    path, output = walk(flow, {"job_ids": ["a", "b"], "until": "any"}, harness)

    assert (output["status"], output["until"], [job["status"] for job in output["jobs"]]) == (
        "SUCCESS", "any", ["SUCCESS", "RUNNING"])
    assert path[-1] == "end" and len(path) > 3  # asked more than once


def test_a_failed_job_ends_the_flow_with_fail(flow, harness):
    harness.simulator.add_job("job-1", init_seconds=1, run_seconds=5, outcome="FAIL", fail_reason="quota")

    path, output = walk(flow, {"job_id": "job-1"}, harness)

    assert output["status"] == "FAIL" and "quota" in output["error"]["message"] and path[-1] == "end"


def test_a_job_longer_than_the_chain_ends_it_with_timeout_at_max_wait(flow, harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=10**6)
    began = harness.clock()

    path, output = walk(flow, {"job_id": "job-1"}, harness)

    assert output["status"] == "TIMEOUT" and output["job"]["status"] == "RUNNING"
    assert path == [state.id for state in flow.states]  # every query and sleep ran, once
    assert harness.clock() - began == flow.constants["poll"]["max_wait"]
