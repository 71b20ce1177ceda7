"""FunctionGraph off the platform: the context object a handler gets, and a clock that tests move.

The one stand-in of each, for the CLI, the tests and the benchmarks. A benchmark's cold-start children import
this before their timer starts, so it loads nothing that either side measured there would load (not typing,
not uuid): only modules every Python has loaded at start-up, and collections.abc.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable


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
                 clock: Callable[[], float] = time.monotonic, request_id: str | None = None):
        self.ak, self.sk, self.token = ak, sk, token
        self._clock = clock
        self._deadline = clock() + timeout
        self.request_id = request_id or os.urandom(16).hex()

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
