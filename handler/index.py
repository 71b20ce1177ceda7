"""FunctionGraph entry point (handler string: index.handler): the function is jobstep.entry."""

from jobstep.entry import handler  # noqa: F401
