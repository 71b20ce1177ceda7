"""The `jobstep` command's options, checked as they are typed (argparse types), so that a mistake is named by the
option the user wrote (argparse's "argument --max-wait: ...") rather than by the field of the event it would have
become. One place for the checks every subcommand shares."""

import argparse
import os
import re
from typing import Callable, TypeVar

from jobstep.config import load_config
from jobstep.model import MAX_WAIT_LIMIT, ConfigError, valid_id, valid_region
from jobstep.step import read_code_file

Number = TypeVar("Number", int, float)


def checked(check: Callable[[str], bool], what: str) -> Callable[[str], str]:
    """An argparse type that keeps the text as typed when `check` holds, and says it is not `what` otherwise."""
    def read(text: str) -> str:
        if not check(text):
            raise argparse.ArgumentTypeError(f"{text!r:.80} is not {what}")
        return text
    return read


def bounded(convert: Callable[[str], Number], low: int, high: int, what: str) -> Callable[[str], Number]:
    """An argparse type for a number of seconds from `low` to `high`, read by `convert` (int, float)."""
    def read(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r:.40} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high} seconds, not {text:.40}")
        return value
    return read


SECONDS = bounded(int, 1, MAX_WAIT_LIMIT, "a whole number of seconds")  # how long a loop may wait
JOB_SECONDS = bounded(float, 0, 24 * 3600, "a number of seconds")  # how long a simulated job runs


def service(text: str) -> str:
    """A job API of the registry: the built-in ones and JOBSTEP_SERVICES' (read as the function reads it)."""
    try:
        names = list(load_config(os.environ, read_code_file).services)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if text not in names:
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not a job API; choose from {', '.join(names)}")
    return text


JOB_ID = checked(valid_id, "a job id (1-64 letters, digits or -)")
REGION = checked(valid_region, "a region such as ap-southeast-1")
PROJECT_ID = checked(valid_id, "a project ID (letters, digits or -; the project's ID, not its name)")
# What FunctionGraph's APIs take as a project ID: 32 letters or digits (e.g. CreateWorkflow, functiongraph_06_1004).
FUNCTIONGRAPH_PROJECT_ID = re.compile(r"[A-Za-z0-9]{32}")
# FunctionGraph's function model: urn:fss:<region>:<project id>:function:<package>:<name>[:<version or alias>]
# (https://support.huaweicloud.com/intl/en-us/api-functiongraph/functiongraph_06_0102.html).
_FUNCTION_URN = re.compile(r"urn:fss:[^:\s]+:[^:\s]+:function:[^:\s]+:[^:\s]+(:[^:\s]+)?")
FUNCTION_URN = checked(lambda text: _FUNCTION_URN.fullmatch(text) is not None,
                       "a function URN (urn:fss:<region>:<project id>:function:<package>:<name>)")


def visible(text: str) -> bool:
    """A name without spaces or characters a terminal does not show."""
    return text.isprintable() and not any(character.isspace() for character in text)
