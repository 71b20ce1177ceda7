"""Every command the documents show (README.md, CONTRIBUTING.md and docs/*.md) runs here, and what it prints must match
the lines shown under it, so the documents cannot drift from the code; every link between them finds its file and
its heading.

How a document shows commands: in ```console blocks, and nowhere else (no ```sh or ```bash block, and no `$ ` line
in a block of another kind).
- A line that starts with `$ ` is a command. A line ending in `\\` continues it onto the next line, and so do lines
  that start with `> ` (bash's prompt for the rest of an unfinished command, such as a loop).
- The lines after it, up to the next `$ ` line or the end of the block, are its output. In an output line `…`
  matches any text; a line that is only `…` matches any number of lines, none included. Spaces at the ends of
  lines are ignored. A command shown without output lines is checked for its exit status only.
- Its exit status must be 0, unless the command ends with the comment `# exits N`.

How each runs: `bash -c COMMAND` from the repo root, in a pseudo-terminal of 80 columns, so the output compared is
what a terminal shows: stdout and stderr together, in the order they were written. (That matters: `jobstep poll`
writes a progress line per call to a terminal, and the function's JSON log lines anywhere else.) PATH starts with
the directory of the Python running the tests, the virtual environment's bin, so `jobstep` is the one installed
there. The environment is the one the README tells the user to set, HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK and
HUAWEICLOUD_SDK_PROJECT_ID, with the keys and project of the stand-ins below; no other JOBSTEP_* or HUAWEICLOUD_*
variable of the shell running the tests gets through, nor the variables of a make running the suite.

What would reach the cloud reaches a stand-in on 127.0.0.1, each started for the one command:
- `jobstep poll` and `jobstep invoke` without --simulate: JOBSTEP_ENDPOINT is a JobSimulator that holds the job
  the README's examples use (JOB, a classic ELB job of 2 s, as `--simulate` would serve it).
- `jobstep deploy` without --dry-run: `--endpoint <the FunctionGraph stand-in's URL>` is appended to the command
  (tests/functiongraph.py, as in tests/test_deploy_command.py, in the region of the command's --region), and with
  --create-agency `--iam-endpoint <the IAM stand-in's URL>` (tests/iam.py). A deploy runs after `jobstep package`,
  whose dist/jobstep-fgs.zip it uploads: that build is real (pip included), and writes dist/ in the repo as
  `make package` does.
- `jobstep start`: the FunctionGraph stand-in runs the flows it holds (tests/test_start_command.py), and holds the
  function and its flow, deployed by `jobstep deploy` before the command runs; their queries reach a job API that
  holds JOB as an ECS job of 2 s, on a simulated clock that the flow's sleeps move, shown at the real time the
  command follows it in.
- `https://<group domain>` (an API Gateway's domain) is replaced by the URL of the API Gateway stand-in
  (tests/gateway.py) in front of the handler, which queries a JobSimulator holding JOB. These commands run in a
  temporary directory, because they write files (headers.txt, answer.json).
- `make TARGET` runs as `make -o .venv/.installed BIN=<that bin> TARGET`: the suite never sets up or reinstalls
  the environment it runs in, and the recipe runs the `jobstep` of the Python running the tests.

The commands that cannot run here are in NOT_RUN with the reason, and the documents must show exactly those: a new
command cannot be left out silently. A command shown in several places runs once, and each place's lines are
compared with what it printed. Commands run at the same time, each in a thread of its own (most of them sleep
through a simulated job), so the module takes as long as the slowest command, not their sum.
"""

import fcntl
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NamedTuple, Optional

import pytest
from functiongraph import FunctionGraphStandIn
from gateway import ApiGateway
from helpers import AK, PROJECT, SK, TEMP_AK, TEMP_SK, TOKEN, Harness, agency
from iam import IamStandIn
from jobstep.client import new_session
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle
from jobstep_tools import cli
from jobstep_tools.local import Clock
from jobstep_tools.simulator import JobSimulator, steady_job
from test_deploy_command import make_zip

ROOT = Path(__file__).resolve().parent.parent
# The documents, by their path from the root.
DOCUMENTS = {path: (ROOT / path).read_text() for path in
             ["README.md", "CONTRIBUTING.md", *sorted(f"docs/{doc.name}" for doc in (ROOT / "docs").glob("*.md"))]}
BIN = str(Path(sys.executable).parent)
JOB = "4010b39b4fd3d5ff014fd943bac41619"  # the job id of the README's examples
GROUP_DOMAIN = "https://<group domain>"
TIMEOUT = 90  # seconds for one command
ANYTHING = "…"

# Shown in the README but not run here: the exact text, and why.
NOT_RUN = {
    "make test": "it is this suite (and the lint before it); CI runs it (.ci/run)",
    "make bench": "two minutes of benchmarks, measured apart from the suite, never inside it",
    "make mutate": "mutation testing, about 40 minutes, outside the suite (CONTRIBUTING says when to run it)",
    'make mutate MODULES="events errors"': "mutation testing of two modules, minutes each, outside the suite",
    ".venv/bin/pip install --quiet '.[deploy]'":
        "it installs into the environment this suite runs in; tests/test_wheel.py installs the project in a fresh"
        " one and runs its commands",
    '.venv/bin/python -m pytest -m "not slow"': "it is this suite, less its slow tests",
    "pip install pre-commit && pre-commit install": "it installs a git hook in the clone",
    "duplicates --change": "a tool of the project's machines, not of a clone",
    "git clone . /tmp/ci-check && cd /tmp/ci-check && bash .ci/run": "it is CI, which runs this suite",
    "export HUAWEICLOUD_SDK_AK=... HUAWEICLOUD_SDK_SK=... HUAWEICLOUD_SDK_PROJECT_ID=...":
        "it sets the user's variables; every command here gets them, with the stand-ins' keys and project",
}
# The variables the README tells the user to set, as the commands here get them.
USER_ENVIRONMENT = {"HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK, "HUAWEICLOUD_SDK_PROJECT_ID": PROJECT}


# ---- the README's commands ----------------------------------------------------------------------------------------


class Block(NamedTuple):
    language: str
    line: int  # of the opening fence, from 1
    lines: tuple[str, ...]  # without the fence's own indentation
    document: str = "README.md"


class Shown(NamedTuple):
    """A command as the README shows it, and what it says the command does."""

    command: str  # continuation lines joined with newlines, as bash reads them
    output: tuple[str, ...]
    status: int
    line: int
    document: str = "README.md"

    @property
    def name(self) -> str:
        first = self.command.splitlines()[0]
        return first if len(first) <= 90 else first[:89] + "…"


FENCE = re.compile(r"^( *)```(\S*)\s*$")
EXITS = re.compile(r"#\s*exits\s+(\d+)\s*$")


def blocks(text: str, document: str = "README.md") -> list[Block]:
    found, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        fence = FENCE.match(line)
        if current is None:
            if fence:
                current = (fence.group(1), fence.group(2), number, [])
        elif fence and fence.group(2) == "" and len(fence.group(1)) <= len(current[0]):
            found.append(Block(current[1], current[2], tuple(current[3]), document))
            current = None
        else:
            indent = current[0]
            current[3].append(line[len(indent):] if line.startswith(indent) else line.lstrip())
    assert current is None, f"{document} line {current[2]}: a code block that never closes"
    return found


def commands(block: Block) -> list[Shown]:
    shown: list[Shown] = []
    command: Optional[list[str]] = None
    output: list[str] = []
    start = 0

    def close() -> None:
        if command is not None:
            status = EXITS.search(command[-1])
            while output and not output[-1].strip():
                output.pop()
            shown.append(Shown("\n".join(command), tuple(output), int(status.group(1)) if status else 0, start,
                               block.document))

    for offset, line in enumerate(block.lines, 1):
        if command is not None and not output and (command[-1].endswith("\\") or line.startswith("> ")):
            command.append(line[2:] if line.startswith("> ") else line)
        elif line.startswith("$ "):
            close()
            command, output, start = [line[2:]], [], block.line + offset
        else:
            assert command is not None, f"{block.document} line {block.line + offset}: output before any command"
            output.append(line.rstrip())
    close()
    return shown


BLOCKS = [block for document, text in DOCUMENTS.items() for block in blocks(text, document)]
SHOWN = [shown for block in BLOCKS if block.language == "console" for shown in commands(block)]
RUN = [shown for shown in SHOWN if shown.command not in NOT_RUN]
DISTINCT = list(dict.fromkeys(shown.command for shown in RUN))  # each runs once


def test_the_notation_reads_as_the_docstring_says():
    lines = ("$ a \\", "  b   # exits 3", "out  ", "", "$ c; while :; do", ">   d", "> done", "x", "")
    block = Block("console", 10, lines)

    assert commands(block) == [Shown("a \\\n  b   # exits 3", ("out",), 3, 11),
                               Shown("c; while :; do\n  d\ndone", ("x",), 0, 15)]


# ---- matching -----------------------------------------------------------------------------------------------------


def line_pattern(expected: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in expected.split(ANYTHING)))


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """The lines shown against the lines printed: `…` is any text in a line, a line of only `…` any lines."""
    patterns = [None if line.strip() == ANYTHING else line_pattern(line) for line in expected]
    # fits[j]: the patterns from i on match the printed lines from j on; i runs from the last pattern back.
    fits = [j == len(actual) for j in range(len(actual) + 1)]
    for pattern in reversed(patterns):
        before = fits
        fits = [False] * (len(actual) + 1)
        for j in range(len(actual), -1, -1):
            if pattern is None:
                fits[j] = before[j] or (j < len(actual) and fits[j + 1])
            else:
                fits[j] = j < len(actual) and before[j + 1] and pattern.fullmatch(actual[j]) is not None
    return fits[0]


@pytest.mark.parametrize("expected, actual, fit", [
    ((), [], True),
    (("a …!",), ["a b c!"], True),
    (("a …!",), ["a b c"], False),
    (("…", "z"), ["x", "y", "z"], True),
    (("…", "z"), ["z"], True),
    (("x", "…"), [], False),
    (("x", "…", "z"), ["x", "z", "z"], True),
    (("x", "(y)"), ["x", "y"], False),  # the shown text is literal, not a pattern
])
def test_the_matcher_reads_ellipses_as_the_docstring_says(expected, actual, fit):
    assert matches(expected, actual) is fit


# ---- running one command ------------------------------------------------------------------------------------------


class Ran(NamedTuple):
    command: str  # what ran, after the rewrites
    status: int
    output: str


def in_a_terminal(command: str, environ: dict[str, str], cwd: Path) -> tuple[int, str]:
    """`bash -c command` with a pseudo-terminal of 80 columns as its stdin, stdout and stderr."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        process = subprocess.Popen(["bash", "-c", command], stdin=terminal, stdout=terminal, stderr=terminal,
                                   cwd=cwd, env=environ, start_new_session=True)
    finally:
        os.close(terminal)
    chunks, deadline = [], time.monotonic() + TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.killpg(process.pid, signal.SIGKILL)
                chunks.append(f"\n[killed after {TIMEOUT} s]".encode())
                break
            if not select.select([controller], [], [], left)[0]:
                continue
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(controller)
    status = process.wait(timeout=TIMEOUT)
    return status, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@contextmanager
def job_api() -> Iterator[JobSimulator]:
    """The job API of the README's examples: JOB, a classic ELB job of 2 s whose sub-jobs end one by one. It takes
    long-term keys (the user's) and an agency's temporary keys (a deployed function's)."""
    with JobSimulator(PROJECT, {AK: (SK, None), TEMP_AK: (TEMP_SK, TOKEN)}) as simulator:
        simulator.add_job(JOB, **steady_job("elb", SERVICES["elb"], 2.0, "SUCCESS"))
        yield simulator


@contextmanager
def api_gateway() -> Iterator[ApiGateway]:
    """API Gateway in front of the function: the handler with an agency, configured to reach the job API."""
    with ExitStack() as stack:
        simulator = stack.enter_context(job_api())
        session = new_session()
        stack.callback(session.close)
        runtime = Runtime(session=session, log=lambda line: None,
                          environ={"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT})
        yield stack.enter_context(ApiGateway(lambda event: handle(event, agency(), runtime)))


def _option(words: list[str], name: str) -> Optional[str]:
    return words[words.index(name) + 1] if name in words[:-1] else None


@contextmanager
def functiongraph_with_a_flow(region: str, environ: dict[str, str]) -> Iterator[FunctionGraphStandIn]:
    """FunctionGraph holding the function and its flow, as `jobstep deploy` made them, running the flow's queries
    against a job API that holds JOB (an ECS job of 2 s) on a simulated clock, shown at real time."""
    clock = Clock(time.time())
    with ExitStack() as stack:
        simulator = stack.enter_context(JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock))
        simulator.add_job(JOB, **steady_job("ecs", SERVICES["ecs"], 2.0, "SUCCESS"))
        harness = Harness(simulator, clock, {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT})
        stand_in = stack.enter_context(FunctionGraphStandIn(PROJECT, {AK: (SK, None)}, region, harness=harness))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        code = make_zip(folder / "jobstep-fgs.zip", b"code")
        deployed, output = in_a_terminal(f"jobstep deploy --region {region} --agency jobstep-reads-jobs --zip {code}"
                                         f" --endpoint {stand_in.base_url}", environ, folder)
        assert deployed == 0, output
        yield stand_in


# Set by a make around this suite (`make test`): a command the user types is a make of its own, not a sub-make that
# prints "Entering directory" lines and inherits options.
MAKE_VARIABLES = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")


def environment() -> dict[str, str]:
    left_out = ("RUNTIME_PROJECT_ID", *MAKE_VARIABLES)
    mine = {name: value for name, value in os.environ.items()
            if not name.startswith(("JOBSTEP_", "HUAWEICLOUD_")) and name not in left_out}
    return {**mine, "PATH": BIN + os.pathsep + mine.get("PATH", ""), **USER_ENVIRONMENT}


def _appended(command: str, more: str) -> str:
    """`command` with `more` options at its end, before a `# exits N` comment, which would swallow them."""
    end = EXITS.search(command)
    at = end.start() if end else len(command)
    return f"{command[:at].rstrip()} {more} {command[at:]}".rstrip()


def run(shown: str, before: Optional[Future] = None) -> Ran:
    """One command, rewritten as the module's docstring says, with its stand-ins."""
    command, environ, cwd = shown, environment(), ROOT
    with ExitStack() as stack:
        words = command.split()
        if words[0] == "make":
            command = f"make -o .venv/.installed BIN={shlex.quote(BIN)} " + command[len("make "):]
        elif words[:2] in (["jobstep", "poll"], ["jobstep", "invoke"]) and "--simulate" not in words:
            environ["JOBSTEP_ENDPOINT"] = stack.enter_context(job_api()).base_url
        elif words[:2] == ["jobstep", "deploy"]:
            if before is not None:
                before.result()  # the ZIP it uploads
            if "--dry-run" not in words:
                region = _option(words, "--region") or "ap-southeast-1"
                stand_in = stack.enter_context(FunctionGraphStandIn(PROJECT, {AK: (SK, None)}, region=region))
                more = f"--endpoint {stand_in.base_url}"
                if "--create-agency" in words:
                    iam = stack.enter_context(IamStandIn({PROJECT: region}, {AK: (SK, None)}))
                    more += f" --iam-endpoint {iam.base_url}"
                command = _appended(command, more)
        elif words[:2] == ["jobstep", "start"]:
            stand_in = stack.enter_context(functiongraph_with_a_flow(_option(words, "--region") or "", environ))
            command = _appended(command, f"--endpoint {stand_in.base_url}")
        if GROUP_DOMAIN in command:
            command = command.replace(GROUP_DOMAIN, stack.enter_context(api_gateway()).origin)
            cwd = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        status, output = in_a_terminal(command, environ, cwd)
    return Ran(command, status, output)


@pytest.fixture(scope="module")
def ran() -> Iterator[dict[str, Future]]:
    """Every command the documents show, each once, started at once; a deploy waits for `jobstep package`."""
    packages = [command for command in DISTINCT if command.startswith("jobstep package")]
    started: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=len(DISTINCT)) as pool:
        for command in sorted(DISTINCT, key=lambda command: command not in packages):
            before = started[packages[0]] if packages and command.startswith("jobstep deploy") else None
            started[command] = pool.submit(run, command, before)
        yield started


# ---- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("shown", RUN, ids=[shown.name for shown in RUN])
def test_the_command_prints_what_the_documents_show(shown, ran):
    result = ran[shown.command].result()
    printed = result.output.rstrip("\n").split("\n") if result.output.strip() else []
    printed = [line.rstrip() for line in printed]
    report = (f"{shown.document} line {shown.line}: {shown.command}\nran: {result.command}\nexit status"
              f" {result.status}\n" + "\n".join(printed))
    assert result.status == shown.status, report
    if shown.output:
        assert matches(shown.output, printed), report


def test_the_commands_left_out_are_the_ones_the_readme_shows():
    # Catches: a command added to a document that nothing runs, or a reason kept for one the documents dropped.
    assert {shown.command for shown in SHOWN if shown.command in NOT_RUN} == set(NOT_RUN)
    exported = next(command for command in NOT_RUN if command.startswith("export "))
    assert {word.split("=")[0] for word in exported.split()[1:]} == set(USER_ENVIRONMENT)


def test_every_shell_command_is_in_a_console_block():
    # Catches: a command shown where this test does not look (a ```sh block, or a `$ ` line in a plain block).
    assert RUN and NOT_RUN
    for block in BLOCKS:
        where = (block.document, block.line)
        assert block.language not in ("sh", "bash", "shell", "zsh", "shell-session"), where
        if block.language != "console":
            assert not [line for line in block.lines if line.startswith("$ ")], where
        else:
            assert block.lines and block.lines[0].startswith("$ "), where


def _prose(text: Optional[str] = None) -> str:
    """A document without its code blocks; every document's, one after the other, without `text`."""
    if text is None:
        return "\n".join(_prose(each) for each in DOCUMENTS.values())
    return re.sub(r"^( *)```\S*\n.*?^\1```$", "", text, flags=re.MULTILINE | re.DOTALL)


def _options(parser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def test_the_jobstep_commands_the_prose_names_exist_with_their_options():
    # Catches: a command or an option renamed in the CLI and not in the text (`jobstep poll --resume FILE`).
    top = cli.parser()
    (subcommands,) = [action.choices for action in top._actions if action.choices and action.dest == "command"]
    named = [span for span in re.findall(r"`([^`\n]+)`", _prose())
             if re.match(r"(\.venv/bin/)?jobstep( |$)", span)]
    assert len(named) > 10
    for span in named:
        words = span.split()[1:]
        if not words or words[0].startswith("-"):
            parsers = [top]
        elif words[0].isupper():  # a placeholder, as in `jobstep COMMAND --help`: an option of every command
            parsers = list(subcommands.values())
        else:
            assert words[0] in subcommands, span
            parsers = [subcommands[words[0]]]
        for option in re.findall(r"--[a-z][a-z-]*", span):
            assert all(option in _options(parser) for parser in parsers), span


def test_the_make_targets_the_prose_names_exist():
    targets = set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    named = [span for span in re.findall(r"`(make(?: [^`\n]+)?)`", _prose())]
    assert named
    for span in named:
        for word in span.split()[1:]:
            assert "=" in word or word in targets, span


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_documents_finds_its_file_and_heading():
    # Catches: a section renamed or moved to another document (README.md to docs/) with its links left behind.
    links = 0
    for document, text in DOCUMENTS.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(text)):
            if re.match(r"[a-z]+://", target):
                continue
            file, _, anchor = target.partition("#")
            path = (ROOT / document).parent / file if file else ROOT / document
            assert path.resolve().is_file(), (document, target)
            if anchor:
                headings = re.findall(r"^#+ (.+)$", _prose(path.read_text()), re.MULTILINE)
                assert anchor in {slug(heading) for heading in headings}, (document, target)
            links += 1
    assert links > 40
