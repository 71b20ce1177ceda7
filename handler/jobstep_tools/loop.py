"""The orchestrator's loop, as a flow or any caller that feeds answers back runs it: call the step, sleep the answer's
retry_after, call again with the answer, until it says done. The one loop of the CLI, the tests and the benchmarks.
"""

from collections.abc import Iterator
from typing import Any, Callable, Optional

from jobstep.step import Answer


def result_of(answer: Answer) -> dict[str, Any]:
    """The result a direct call answers, which is the handler's answer itself (README, Where the events come from);
    TypeError for the answer of another source (a list for Kafka, an HTTP response for API Gateway)."""
    if not isinstance(answer, dict) or "statusCode" in answer:
        raise TypeError(f"not the answer of a direct call: {str(answer)[:80]}")
    return answer


def loop(event: Any, invoke: Callable[[Any], dict[str, Any]], sleep: Callable[[float], None],
         limit: Optional[int] = None) -> Iterator[dict[str, Any]]:
    """Each result of the loop that `event` starts, from the first call to the one that says done (or the
    `limit`-th, for a caller that gives up)."""
    result = invoke(event)
    yield result
    calls = 1
    while not result["done"] and (limit is None or calls < limit):
        sleep(result["retry_after"])
        result = invoke(result)
        calls += 1
        yield result
