"""The function flow that loops the step: the body of FunctionGraph's `POST /v2/{project_id}/fgs/workflows`.

A flow must be a DAG, so the loop is unrolled: query → sleep → query … → end, with the sleeps the
delay policy would choose (without jitter). Each query feeds its result to the next, and a done result
leaves early through the node's error handling (`$.done == true` → end). If a job outlives the chain,
the last query lands at the chain's max_wait and answers TIMEOUT, so the flow always ends with a verdict.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import islice
from typing import Any

from jobstep.policy import Policy

MAX_STATES = 100  # the workflows API takes 1-100 states
MAX_SLEEPS = (MAX_STATES - 2) // 2  # n sleeps need n + 1 queries and the end state
FUNCTION_NAME = "jobstep"
END = "end"
# The result fields each query passes on (a group's too: jobs, until); the first query gets the flow's input, where
# most are absent, and job_ids when it names a group.
_FIELDS = ("project_id", "region", "service", "done", "status", "job", "error", "jobs", "job_ids", "until")


def _delays(policy: Policy) -> Iterator[int]:
    """The policy's delays for a job seen at ages 0, d1, d1 + d2, …, without jitter."""
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)  # any moment: only ages matter
    age = 0
    while True:
        delay = policy.running_delay(start, None, start + timedelta(seconds=age), 10**9, 0.0)
        yield delay
        age += delay


def longest_wait(policy: Policy) -> int:
    """The longest max_wait whose chain fits in a flow."""
    return sum(islice(_delays(policy), MAX_SLEEPS))


def sleeps(policy: Policy, max_wait: int) -> list[int]:
    """The sleeps between queries, the last one cut so that the last query lands at max_wait."""
    chosen: list[int] = []
    waited = 0
    delays = _delays(policy)
    while waited < max_wait:
        chosen.append(min(next(delays), max_wait - waited))
        waited += chosen[-1]
    return chosen


def _query(index: int, transition: str) -> dict[str, Any]:
    arguments = {"job_id": "$.job_id", "poll": "$.poll | $CONST.poll"}
    arguments.update({name: f"$.{name} | $CONST.unset" for name in _FIELDS})
    return {
        "id": f"query_{index}",
        "name": f"query {index}",
        "type": "Operation",
        "end": False,
        "action_mode": "sequential",
        "actions": [{"function_ref": {"ref_name": FUNCTION_NAME, "invoke_mode": "sync", "arguments": arguments}}],
        "on_errors": [{"error": "$.done == true", "transition": END}],
        "transition": transition,
    }


def definition(function_urn: str, policy: Policy, max_wait: int, name: str = "jobstep-wait") -> dict[str, Any]:
    """The workflow body; raises ValueError when max_wait needs more states than a flow may have."""
    delays = sleeps(policy, max_wait)
    if len(delays) > MAX_SLEEPS:
        raise ValueError(
            f"a flow of at most {MAX_STATES} states waits at most {longest_wait(policy)} s with this delay policy;"
            " lower max_wait, or raise JOBSTEP_MAX_DELAY"
        )
    states: list[dict[str, Any]] = []
    for index, delay in enumerate(delays, start=1):
        states.append(_query(index, f"sleep_{index}"))
        states.append({"id": f"sleep_{index}", "name": f"sleep {index}", "type": "Sleep", "end": False, "actions": [],
                       "duration": delay, "transition": f"query_{index + 1}"})
    states.append(_query(len(delays) + 1, END))
    # `end`, `transition` and `actions` on every state: huaweicloudsdkfunctiongraph's OperationState marks them
    # required, and the API reference's CreateWorkflow example (functiongraph_06_1004) sends them on every state.
    states.append({"id": END, "name": END, "type": "End", "end": True, "transition": "", "actions": []})
    return {
        "name": name,
        "description": f"Query a job until it ends, for up to {max_wait} s (made by `jobstep flow`).",
        "mode": "NORMAL",
        "start": "query_1",
        "functions": [{"name": FUNCTION_NAME, "operation": function_urn, "metadata": {}}],
        "constants": {"unset": None, "poll": {"max_wait": max_wait}},
        "retries": [],
        "states": states,
    }
