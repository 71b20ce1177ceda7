"""`jobstep start JOB_ID`: start the deployed function flow for a job and follow its execution to the end, through
huaweicloudsdkfunctiongraph's workflow execution APIs.

It finds the flow by its exact name (ListWorkflow, as deploy does), reads its definition (ShowWorkFlow: how long its
sleeps add up to), starts an execution with the job's event as input (StartWorkflowExecution, "Executing a Flow
Asynchronously", functiongraph_06_1001), and reads the execution (ShowWorkflowExecution, "Querying a Flow Instance",
functiongraph_06_1006: status running, success, fail, timeout or cancel; each node's executions) until it ends. It
prints a progress line on stderr for each query node that has answered, then jobstep's result (the flow's output,
the last query's answer) on stdout, and exits by its verdict as `poll` does. It never waits longer than the flow can
run: its sleeps, plus each query's time-out, plus a minute. Ctrl-C stops following (the execution goes on).

Functional core: pure functions build the requests (deploy.Call) and read the answers as dicts. Imperative shell:
`follow` sends them through deploy.Sender, sleeps on an injectable clock, and prints.
"""

import argparse
import json
import os
import signal
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Callable, NamedTuple, Optional, TextIO, Union

from jobstep.config import base_url
from jobstep.credentials import Credentials, credentials_problem, find_credentials
from jobstep.model import ConfigError, valid_region

from . import deploy, options
from .command import INTERRUPTED
from .deploy import LIST_WORKFLOWS, Call, Operation, Sender, Stop

PROG = "jobstep start"
FAILED = 2
# The execution's statuses (ShowWorkflowExecutionResponse.status, functiongraph_06_1006; the Go SDK's
# ShowWorkflowExecutionResponseStatusEnum): running, then one of the others.
RUNNING = "running"
SUCCESS = "success"
MARGIN = 60  # seconds added to what the flow itself can take, before the command gives up following it
FIRST_LOOK = 1.0  # seconds before the first look, and the least between two
MOST_BETWEEN = 30.0  # the most between two looks
HISTORY_HEADER = "x_get_workflow_full_history_data"  # the request's X-Get-Workflow-Full-History-Data: the nodes'
# input and output whole ("whether to obtain the complete flow execution output")

SHOW_WORKFLOW = Operation("show_work_flow", "ShowWorkFlowRequest", None, "GET",
                          "/v2/{project_id}/fgs/workflows/{workflow_id}")
START_EXECUTION = Operation("start_workflow_execution", "StartWorkflowExecutionRequest", "FlowExecuteBody", "POST",
                            "/v2/{project_id}/fgs/workflows/{workflow_id}/executions")
SHOW_EXECUTION = Operation("show_workflow_execution", "ShowWorkflowExecutionRequest", None, "GET",
                           "/v2/{project_id}/fgs/workflows/{workflow_id}/executions/{execution_id}")
OPERATIONS = (LIST_WORKFLOWS, SHOW_WORKFLOW, START_EXECUTION, SHOW_EXECUTION)


class Start(NamedTuple):
    """The checked options: which job, and where its flow is."""

    job_id: str
    service: Optional[str]
    region: str
    project_id: str
    flow_name: str
    endpoint: Optional[str]


# ---- functional core -----------------------------------------------------------------------------------------------


def event(target: Start) -> dict[str, Any]:
    """The flow's input: the job's event, as the flow's first query reads it ($.job_id, $.service)."""
    return {"job_id": target.job_id, **({"service": target.service} if target.service else {})}


def list_workflows(target: Start, offset: int) -> Call:
    parameters = (("workflow_name", target.flow_name), ("limit", deploy.WORKFLOWS_PAGE), ("offset", offset))
    return Call(LIST_WORKFLOWS, parameters, None, f"looking for the flow {target.flow_name}")


def show_workflow(target: Start, workflow_id: str) -> Call:
    return Call(SHOW_WORKFLOW, (("workflow_id", workflow_id),), None, f"reading the flow {target.flow_name}")


def start_execution(target: Start, workflow_id: str) -> Call:
    return Call(START_EXECUTION, (("workflow_id", workflow_id),), {"input": event(target)},
                f"starting the flow {target.flow_name}")


def show_execution(target: Start, workflow_id: str, execution_id: str) -> Call:
    return Call(SHOW_EXECUTION, (("workflow_id", workflow_id), ("execution_id", execution_id),
                                 (HISTORY_HEADER, True)), None, f"reading the execution {execution_id}")


def bound(definition: Mapping[str, Any], function_timeout: int = deploy.TIMEOUT) -> int:
    """The longest the flow can run: its sleeps, each query taking its whole time-out, and a margin."""
    states = definition.get("states") or []
    sleeps = sum(float(state.get("duration") or 0) for state in states if state.get("type") == "Sleep")
    queries = sum(1 for state in states if state.get("type") == "Operation")
    return int(sleeps) + queries * function_timeout + MARGIN


def max_wait(definition: Mapping[str, Any]) -> Optional[int]:
    """How long the flow waits for a job (its constant poll.max_wait, as flow.py writes it)."""
    wait = ((definition.get("constants") or {}).get("poll") or {}).get("max_wait")
    return wait if isinstance(wait, int) else None


def queries(definition: Mapping[str, Any]) -> frozenset[str]:
    """The ids of the flow's states that call the function (type Operation)."""
    states = definition.get("states") or []
    return frozenset(str(state.get("id")) for state in states if state.get("type") == "Operation")


def answers(execution: Mapping[str, Any], calls: frozenset[str]) -> list[dict[str, Any]]:
    """jobstep's results the execution's query nodes (`calls`) gave so far, in order: each ended node's output."""
    found = []
    for detail in execution.get("node_execution_details") or []:
        if detail.get("node_id") not in calls:
            continue
        for run in detail.get("executions") or []:
            output = run.get("output")
            if run.get("status") != RUNNING and isinstance(output, dict) and "done" in output:
                found.append(output)
    return found


def result_of(execution: Mapping[str, Any], calls: frozenset[str]) -> Optional[dict[str, Any]]:
    """The flow's result: its output when it is jobstep's result, else the last query's answer."""
    output = execution.get("output")
    if isinstance(output, dict) and "done" in output:
        return output
    given = answers(execution, calls)
    return given[-1] if given else None


def failure(execution: Mapping[str, Any]) -> str:
    """What a node that failed said, on one line."""
    for detail in execution.get("node_execution_details") or []:
        for run in detail.get("executions") or []:
            if run.get("error_message"):
                said = " ".join(json.dumps(run["error_message"]).split())[:300]
                return f"node {detail.get('node_name') or detail.get('node_id')}: {said}"
    return "no node says why"


def next_look(latest: Optional[dict[str, Any]]) -> float:
    """Seconds until the next look: the retry_after of the latest answer, from FIRST_LOOK to MOST_BETWEEN."""
    after = (latest or {}).get("retry_after")
    wanted = float(after) if isinstance(after, (int, float)) and not isinstance(after, bool) else FIRST_LOOK
    return min(max(wanted, FIRST_LOOK), MOST_BETWEEN)


def plain(value: Any) -> Any:
    """JSON values as json.loads gives them: the SDK reads numbers inside an `object` field as Decimal."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    return value


FUNCTIONGRAPH = deploy.FUNCTIONGRAPH._replace(
    prog=PROG, rerun="", missing="the flow or its execution is not there: deploy it with `jobstep deploy` (function"
    " flows are only in some regions: see FunctionGraph's documentation)")


# ---- options -------------------------------------------------------------------------------------------------------

def _endpoint(text: str) -> str:
    try:
        return base_url(text, "--endpoint", "https://functiongraph.ap-southeast-1.myhuaweicloud.com")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--endpoint ", "", 1)) from None


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The `start` subcommand."""
    starting = commands.add_parser(
        "start", allow_abbrev=False,
        help="start the deployed flow for a job and follow it to its verdict; exit 0 SUCCESS, 1 FAIL, 2 otherwise",
        description="Start the function flow `jobstep deploy` made for a job, follow its execution to its end with a"
                    " line per answer of the function, then print the final result and exit by its verdict."
                    " Credentials: HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN).")
    starting.add_argument("job_id", type=options.JOB_ID, help="the job to wait for")
    starting.add_argument("--service", type=options.service, help="the job's API (default: the function's, elb)")
    starting.add_argument("--region", type=options.REGION, help="the flow's region (default: JOBSTEP_REGION)")
    starting.add_argument("--project-id", type=options.checked(
        lambda text: options.FUNCTIONGRAPH_PROJECT_ID.fullmatch(text) is not None, "a project ID (32 letters or"
        " digits)"), help="the region's project ID (default: HUAWEICLOUD_SDK_PROJECT_ID)")
    flow_name = options.checked(lambda text: 0 < len(text) <= 64 and options.visible(text),
                                "a flow name (1-64 characters without spaces)")
    starting.add_argument("--flow-name", type=flow_name,
                          default=deploy.FLOW_NAME, help=f"the flow's name (default: {deploy.FLOW_NAME})")
    starting.add_argument("--endpoint", type=_endpoint, help="FunctionGraph's base URL (default: the region's)")


def check(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """The rules that span options and variables, as usage errors (argparse's: one line, exit 2)."""
    project: str = args.project_id or environ.get("HUAWEICLOUD_SDK_PROJECT_ID") or ""
    if not project:
        args.usage.error("give --project-id, or set HUAWEICLOUD_SDK_PROJECT_ID")
    if not options.FUNCTIONGRAPH_PROJECT_ID.fullmatch(project):
        args.usage.error(f"HUAWEICLOUD_SDK_PROJECT_ID must be a project ID (32 letters or digits), not"
                         f" {project!r:.40}")
    region: str = args.region or environ.get("JOBSTEP_REGION") or ""
    if not region:
        args.usage.error("give --region (for example ap-southeast-1), or set JOBSTEP_REGION")
    if not valid_region(region):
        args.usage.error(f"JOBSTEP_REGION must look like ap-southeast-1, not {region!r:.40}")
    args.target = Start(args.job_id, args.service, region, project, args.flow_name, args.endpoint)


# ---- imperative shell ----------------------------------------------------------------------------------------------


def _credentials(environ: Mapping[str, str]) -> Union[Credentials, Stop]:
    credentials = find_credentials(None, environ)
    if credentials is None:
        return Stop(f"{PROG}: no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (and"
                    " HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys)")
    problem = credentials_problem(credentials)
    return Stop(f"{PROG}: {problem.message}") if problem else credentials


def _sender(target: Start, environ: Mapping[str, str]) -> Union[Sender, Stop]:
    sdk = deploy._import_sdk()
    if isinstance(sdk, Stop):
        return Stop(sdk.message.replace(deploy.PROG, PROG, 1))
    credentials = _credentials(environ)
    if isinstance(credentials, Stop):
        return credentials
    endpoint = deploy.endpoint_of(sdk, target.region, target.endpoint, PROG)
    if isinstance(endpoint, Stop):
        return endpoint
    return Sender(sdk, deploy.project_keys(sdk, credentials, target.project_id), endpoint, FUNCTIONGRAPH,
                  timeout=(10, 30))


class Following(NamedTuple):
    """Where the command is: the execution, and the latest answer of the function."""

    execution_id: str
    latest: Optional[dict[str, Any]]


def follow(target: Start, environ: Mapping[str, str], out: TextIO, err: TextIO,
           exit_code: Callable[[Any], int], describe: Callable[[dict[str, Any]], str],
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> int:
    """The start command; `exit_code` and `describe` are the CLI's (a verdict's code, a progress line)."""
    sender = _sender(target, environ)
    if isinstance(sender, Stop):
        print(sender.message, file=err)
        return FAILED
    state: list[Following] = []
    try:
        return _follow(sender, target, state, out, err, exit_code, describe, sleep, clock)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once: a second Ctrl-C while it is said is the same
        if state and state[-1].latest is not None:
            print(json.dumps(state[-1].latest, indent=2), file=out)
        where = f"; the execution {state[-1].execution_id} goes on in FunctionGraph" if state else ""
        print(f"{PROG}: interrupted{where}", file=err)
        return INTERRUPTED


def _follow(sender: Sender, target: Start, state: list[Following], out: TextIO, err: TextIO,
            exit_code: Callable[[Any], int], describe: Callable[[dict[str, Any]], str],
            sleep: Callable[[float], None], clock: Callable[[], float]) -> int:
    def stop(reason: Stop) -> int:
        print(reason.message, file=err)
        return FAILED

    found = deploy.find_in_pages(sender, lambda offset: list_workflows(target, offset),
                         lambda answer: deploy.pick_workflow(answer, target.flow_name), deploy.next_offset, 0)
    if isinstance(found, Stop):
        return stop(found)
    if found is None:
        return stop(Stop(f"{PROG}: there is no flow named {target.flow_name} in the project {target.project_id}"
                         f" ({target.region}): make it with `jobstep deploy`, or pass its --flow-name"))
    shown = sender.send(show_workflow(target, found))
    if isinstance(shown, Stop):
        return stop(shown)
    definition = shown.get("definition") or {}
    started = sender.send(start_execution(target, found))
    if isinstance(started, Stop):
        return stop(started)
    execution_id = started.get("execution_id")
    if not execution_id:
        return stop(Stop(f"{PROG}: starting the flow {target.flow_name}: the answer has no execution_id"))
    began, limit, waits, calls = clock(), bound(definition), max_wait(definition), queries(definition)
    state.append(Following(execution_id, None))
    print(f"flow {target.flow_name}: execution {execution_id} started for the job {target.job_id}"
          + (f", waits up to {waits} s" if waits else ""), file=err, flush=True)
    printed = 0
    while True:
        execution = sender.send(show_execution(target, found, execution_id))
        if isinstance(execution, Stop):
            return stop(execution)
        execution = plain(execution)
        given = answers(execution, calls)
        for answer in given[printed:]:
            print(describe(answer), file=err, flush=True)
        printed = max(printed, len(given))
        latest = result_of(execution, calls)
        state[-1] = Following(execution_id, latest)
        status = str(execution.get("status") or "")
        if status != RUNNING:
            return _ended(execution, execution_id, status, latest, round(clock() - began), out, err, exit_code)
        if clock() - began > limit:
            if latest is not None:
                print(json.dumps(latest, indent=2), file=out)
            return stop(Stop(f"{PROG}: the execution {execution_id} is still running after {limit} s, longer than"
                             f" the flow can take: look at it in FunctionGraph's console (the result printed, if"
                             f" any, goes on with `jobstep poll --resume`)"))
        sleep(next_look(latest))


def _ended(execution: Mapping[str, Any], execution_id: str, status: str, latest: Optional[dict[str, Any]],
           seconds: int, out: TextIO, err: TextIO, exit_code: Callable[[Any], int]) -> int:
    if status == SUCCESS and latest is not None and latest.get("done"):
        print(f"execution {execution_id}: {status} after {seconds} s", file=err)
        print(json.dumps(latest, indent=2), file=out)
        return exit_code(latest)
    why = failure(execution) if status != SUCCESS else "its output is not a final result of jobstep"
    print(f"{PROG}: the execution {execution_id} ended {status or 'without a status'}: {why}", file=err)
    if latest is not None:
        print(json.dumps(latest, indent=2), file=out)
    return FAILED


def run(args: argparse.Namespace, out: TextIO, err: TextIO, exit_code: Callable[[Any], int],
        describe: Callable[[dict[str, Any]], str]) -> int:
    try:
        return follow(args.target, os.environ, out, err, exit_code, describe)
    except Exception as exc:  # a bug: still one line, never a traceback
        print(f"{PROG}: unexpected {type(exc).__name__}: {deploy.one_line(exc)} (a bug in jobstep start; please report"
              " it with the command you ran)", file=err)
        return FAILED
