"""The function, as FunctionGraph calls it: index.py, at the code package's root, is one line that imports
`handler` from here (jobstep_tools.package writes it into the ZIP from INDEX_SOURCE)."""

import gc

# Importing creates only objects that live as long as the instance: collecting garbage among them is wasted time
# (7.5 ms of a 90 ms cold start, measured with gc.callbacks), and so is scanning them again in every later
# collection of a warm instance. So no collection until they exist, then they are frozen out of the collector.
gc.disable()
from typing import Any  # noqa: E402

from .client import new_session  # noqa: E402
from .step import Answer, Runtime, handle  # noqa: E402

# Created once per instance, so warm invocations reuse the connection to the job API.
_RUNTIME = Runtime(session=new_session())
gc.freeze()
gc.enable()


def handler(event: Any, context: Any) -> Answer:
    return handle(event, context, _RUNTIME)
