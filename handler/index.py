"""FunctionGraph entry point (handler string: index.handler). The logic lives in the jobstep package."""

from jobstep.client import new_session
from jobstep.step import Runtime, handle

# Created once per instance, so warm invocations reuse the connection to the job API.
_RUNTIME = Runtime(session=new_session())


def handler(event, context):
    return handle(event, context, _RUNTIME)
