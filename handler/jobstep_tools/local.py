"""FunctionGraph off the platform: the context object a handler gets, and a clock that tests move.

The one stand-in of each, for the CLI, the tests and the benchmarks. Standard library only: a benchmark's
cold-start child imports this before its timer starts, so it must load nothing of jobstep.
"""

import time
import uuid
from typing import Callable, Optional


class Clock:
    """Simulated time, read by the handler and the simulator alike: moved instead of slept."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LocalContext:
    """The context methods the handler calls (FunctionGraph's Python context): a request id, the time left of a
    `timeout` counted on `clock` from now, and an agency's temporary keys; empty strings without an agency, as
    FunctionGraph gives."""

    def __init__(self, ak: str = "", sk: str = "", token: str = "", timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, request_id: Optional[str] = None):
        self.ak, self.sk, self.token = ak, sk, token
        self._clock = clock
        self._deadline = clock() + timeout
        self.request_id = request_id or uuid.uuid4().hex

    def getRequestID(self) -> str:  # noqa: N802  (FunctionGraph's method names)
        return self.request_id

    def getRemainingTimeInMilliSeconds(self) -> int:  # noqa: N802
        return max(0, int((self._deadline - self._clock()) * 1000))

    def getSecurityAccessKey(self) -> str:  # noqa: N802
        return self.ak

    def getSecuritySecretKey(self) -> str:  # noqa: N802
        return self.sk

    def getSecurityToken(self) -> str:  # noqa: N802
        return self.token
