"""The `jobstep` command: run the step on a laptop as an orchestrator would (demo, poll, invoke), offline against
the embedded simulator if you like (--simulate), and make and ship what is deployed (package, flow, deploy)."""

import argparse
import json
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, TextIO

from jobstep import __version__
from jobstep.client import new_session
from jobstep.config import load_config
from jobstep.events import GroupQuery, Query, is_group, read_trigger
from jobstep.model import MAX_JOBS, ConfigError, Status, Until, valid_id
from jobstep.services import DEFAULT_SERVICE, SERVICES
from jobstep.step import Runtime, handle, read_code_file

from . import deploy, options, start
from .command import INTERRUPTED
from .flow import MAX_STATES, definition, longest_wait
from .local import LocalContext
from .loop import loop, result_of
from .package import DEFAULT_OUT, PackageError, build
from .simulator import JobSimulator, steady_job

EXIT_CODES = {Status.SUCCESS.value: 0, Status.FAIL.value: 1}  # TIMEOUT, ERROR, anything else that ends a loop: 2
FAILED = 2  # also argparse's code for a bad option
CLOSED_PIPE = 141  # what a shell reports for a command ended by SIGPIPE, 128 + 13: `jobstep demo | head -3` is
# neither a FAIL nor an error


def exit_code(answer: Any) -> int:
    """0 for SUCCESS or not done yet, 1 for FAIL, 2 otherwise; a Kafka batch exits by its worst result, an API
    Gateway response by the result in its body (every body jobstep answers is one)."""
    if isinstance(answer, list):
        return max((exit_code(item) for item in answer), default=0)
    if not isinstance(answer, dict):
        return FAILED
    if "statusCode" in answer:
        try:
            return exit_code(json.loads(answer.get("body") or ""))
        except ValueError:
            return FAILED
    return EXIT_CODES.get(str(answer.get("status")), FAILED) if answer.get("done") else 0


def calls(result: dict[str, Any]) -> Any:
    """How many calls the loop has made: its poll's attempt, or a group's most (its jobs that ended stopped
    counting)."""
    if isinstance(result.get("jobs"), list):
        return max(calls(job) for job in result["jobs"])
    return (result.get("poll") or {}).get("attempt")


def progress_line(result: dict[str, Any]) -> str:
    then = "done" if result["done"] else f"ask again in {result['retry_after']} s"
    problem = f"  ({result['error']['message']})" if result.get("error") else ""
    jobs = result.get("jobs")
    ended = f"jobs {sum(job['done'] for job in jobs)}/{len(jobs)} ended  " if isinstance(jobs, list) else ""
    return f"call {calls(result)}: {result['status']:<8} {how_far(result.get('progress'))}{ended}{then}{problem}"


BAR = 10


def how_far(progress: Optional[dict[str, Any]]) -> str:
    """The job's progress as a bar, its percent, its sub-jobs and the time it has left; "" when it says nothing."""
    if not progress:
        return ""
    filled = round(progress["fraction"] * BAR)
    text = f"[{'#' * filled}{'.' * (BAR - filled)}] {progress['fraction']:4.0%}"
    if progress.get("sub_jobs"):
        sub_jobs = progress["sub_jobs"]
        failed = f", {sub_jobs['failed']} failed" if sub_jobs["failed"] else ""
        text += f"  sub-jobs {sub_jobs['done']}/{sub_jobs['total']}{failed}"
    if progress.get("eta_seconds") is not None:
        text += f"  about {_duration(progress['eta_seconds'])} left"
    return text + "  "


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    return f"{round(seconds / 60)} min" if seconds < 90 * 60 else f"{seconds / 3600:.1f} h"


def looped(event: Any, invoke: Callable[[Any], dict[str, Any]], sleep: Callable[[float], None],
           progress: Callable[[dict[str, Any]], None], out: TextIO, err: TextIO) -> int:
    """The loop, its final result printed; on Ctrl-C the last result instead, which resumes the loop."""
    seen: list[dict[str, Any]] = []
    try:
        for result in loop(event, invoke, sleep):
            seen[:] = [result]
            progress(result)
    except KeyboardInterrupt:
        if not seen:
            return interrupted(err, "jobstep: interrupted before the first answer")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the state is being printed: a second Ctrl-C waits for it
        print(json.dumps(seen[0], indent=2), file=out)
        print(f"jobstep: interrupted after call {calls(seen[0])}; the result printed is the loop's state:"
              " save it and go on with `jobstep poll --resume FILE`", file=err)
        return INTERRUPTED
    print(json.dumps(seen[0], indent=2), file=out)
    return exit_code(seen[0])


def _keys() -> tuple[str, str, str]:
    """An agency-style temporary key for the embedded simulator: access key, secret key, security token."""
    return secrets.token_hex(10).upper(), secrets.token_urlsafe(30), secrets.token_urlsafe(60)


DEMO_SECONDS = 5.0
# The demo job's sub-jobs (classic ELB's shape: entities.sub_jobs), and the second each one ends at.
DEMO_SUB_JOBS = (("createListener", 2.0), ("addMember", 3.0), ("addMember", 4.0), ("createHealthCheck", 5.0))


def demo_sub_jobs(elapsed: float) -> dict[str, Any]:
    return {"sub_jobs": [{"job_id": f"sub-{number}", "job_type": job_type,
                          "status": "SUCCESS" if elapsed >= ends else "RUNNING"}
                         for number, (job_type, ends) in enumerate(DEMO_SUB_JOBS)]}


def demo(out: TextIO, err: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    """The whole loop against the embedded simulator, signed with an agency-style temporary key."""
    project_id = uuid.uuid4().hex
    ak, sk, token = _keys()
    with JobSimulator(project_id, {ak: (sk, token)}) as simulator:
        job = simulator.add_job(uuid.uuid4().hex, init_seconds=1.0, run_seconds=DEMO_SECONDS - 1.0,
                                script=demo_sub_jobs)
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": project_id}
        runtime = Runtime(session=new_session(), environ=environ, log=lambda line: None)
        print(f"jobstep demo: a simulated job API at {simulator.base_url} checks every signature", file=out)
        print(f"job {job.job_id}: INIT for 1 s, then RUNNING while its {len(DEMO_SUB_JOBS)} sub-jobs end one by one,"
              f" then SUCCESS after {DEMO_SECONDS:.0f} s", file=out)
        try:
            for result in loop({"job_id": job.job_id},
                               lambda event: result_of(handle(event, LocalContext(ak, sk, token), runtime)), sleep):
                print("  " + progress_line(result), file=out, flush=True)
        except KeyboardInterrupt:
            return interrupted(err, "jobstep demo: interrupted")
        rejected = sum(1 for seen in simulator.seen if seen.verdict)
        print(f"{len(simulator.seen)} signed requests, {rejected} rejected; the final result, without the job's"
              " snapshot (jobstep poll --simulate prints a result whole):", file=out)
    # On one line, so that the progress lines above stay on the screen.
    print(json.dumps({name: value for name, value in result.items() if name != "job"}), file=out)
    return exit_code(result)


class Simulation(NamedTuple):
    """--simulate: how long the simulated job runs, and how it ends."""

    seconds: float
    outcome: str  # SUCCESS or FAIL
    progress: bool  # whether the job says how far it is, where its service can


class Edge(NamedTuple):
    """Where the handler's calls go: the environment it reads, and a new context (keys, time left) per call."""

    environ: dict[str, str]
    context: Callable[[], LocalContext]


@contextmanager
def edge(event: Any, simulation: Optional[Simulation]) -> Iterator[Edge]:
    """The real cloud (this shell's environment and keys), or with `simulation` an embedded job API on loopback
    that knows every job the event names, each a steady job of its own service, signed with a temporary key."""
    if simulation is None:
        yield Edge(dict(os.environ), LocalContext)
        return
    named = read_trigger(event, datetime.now(timezone.utc)).jobs
    queries = [job for each in named for job in (each.jobs if isinstance(each, GroupQuery) else (each,))
               if isinstance(job, Query)]
    default = os.environ.get("JOBSTEP_SERVICE") or DEFAULT_SERVICE
    project_id = next((query.project_id for query in queries if query.project_id), None) or uuid.uuid4().hex
    ak, sk, token = _keys()
    with JobSimulator(project_id, {ak: (sk, token)}) as simulator:
        for query in queries:
            service = query.service or default
            if service in SERVICES:  # any other name gets the handler's own answer to it
                simulator.add_job(query.job_id, **steady_job(service, SERVICES[service], *simulation))
        # The delay knobs stay; keys, project and endpoint are the simulator's.
        knobs = {name: value for name, value in os.environ.items() if name.startswith("JOBSTEP_")}
        yield Edge({**knobs, "JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": project_id},
                   lambda: LocalContext(ak, sk, token))


def read_event(source: str, stdin: TextIO) -> Any:
    """An event given inline (JSON that starts with { or [), as - for standard input, or as a file's path."""
    if source.lstrip().startswith(("{", "[")):
        return json.loads(source)
    if source == "-":
        return json.load(stdin)
    with open(source, encoding="utf-8") as text:
        return json.load(text)


def _event_problem(command: str, source: str, exc: Exception) -> str:
    where = "the inline JSON" if source.lstrip().startswith(("{", "[")) else source
    hint = ""
    if isinstance(exc, FileNotFoundError) and valid_id(source):
        inline = json.dumps({"job_id": source})
        hint = f"; to wait for the job {source}, run jobstep poll {source}, or give its event inline: '{inline}'"
    return f"jobstep {command}: cannot read a JSON event from {where}: {exc}{hint}"


def poll(args: argparse.Namespace, out: TextIO, err: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    if args.resume is not None:
        try:
            event = read_event(args.resume, sys.stdin)
        except (OSError, ValueError, RecursionError) as exc:
            print(_event_problem("poll", args.resume, exc), file=err)
            return FAILED
        if not (isinstance(event, dict) and ("job_id" in event or is_group(event))):  # another source's event
            print("jobstep poll: --resume takes a result that jobstep printed (a JSON object with job_id, or a"
                  " group's with jobs); for an event of another source, use jobstep invoke", file=err)
            return FAILED
    else:
        event = {"job_id": args.job_ids[0]} if len(args.job_ids) == 1 else {"job_ids": args.job_ids}
        if args.until:
            event["until"] = args.until
        for name in ("region", "project_id", "service"):
            if getattr(args, name):
                event[name] = getattr(args, name)
        if args.max_wait:
            event["poll"] = {"max_wait": args.max_wait}
    with edge(event, args.simulation) as where:
        # On a terminal a progress line per call; otherwise the function's own JSON log lines.
        if err.isatty():
            log, progress = (lambda line: None), (lambda answer: print(progress_line(answer), file=err, flush=True))
        else:
            log, progress = (lambda line: print(line, file=err, flush=True)), (lambda answer: None)
        runtime = Runtime(session=new_session(), environ=where.environ, log=log)
        return looped(event, lambda step_event: result_of(handle(step_event, where.context(), runtime)), sleep,
                      progress, out, err)


def invoke(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        event = read_event(args.event, sys.stdin)
    except (OSError, ValueError, RecursionError) as exc:
        print(_event_problem("invoke", args.event, exc), file=err)
        return FAILED
    with edge(event, args.simulation) as where:
        runtime = Runtime(session=new_session(), environ=where.environ, log=lambda line: print(line, file=err))
        result = handle(event, where.context(), runtime)
    print(json.dumps(result, indent=2), file=out)
    return exit_code(result)


def zip_path(target: str) -> Path:
    """Where `package --out TARGET` writes the ZIP: TARGET, or the default name inside it when it is a folder (one
    that exists, or any path that ends with /, which is made)."""
    path = Path(target)
    return path / DEFAULT_OUT.name if path.is_dir() or target.endswith(("/", os.sep)) else path


def package(target: str, out: TextIO, err: TextIO) -> int:
    path = zip_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        built = build(path)
    except (PackageError, OSError) as exc:
        print(f"jobstep package: {exc}", file=err)
        return FAILED
    print(f"built {built.path}: {built.size:,} bytes, {built.files} files, dependencies for Python {built.python}",
          file=out)
    print(f"left out of pip's install: {', '.join(built.left_out)}", file=out)
    if built.compiler:
        print(f"bytecode compiled by {built.compiler}", file=out)
    else:
        print(f"no Python {built.python} on this machine: the package has no bytecode, so each cold start"
              " compiles the sources first (about 100 ms more); build where that Python is installed", file=out)
    return 0


def flow(urn: str, max_wait: int, out: TextIO) -> int:
    """The function-flow body for this function, with the delay knobs of this environment (checked by parse)."""
    body = definition(urn, load_config(os.environ, read_code_file).policy, max_wait)
    print(json.dumps(body, indent=2), file=out)
    return 0


def _flow_wait(args: argparse.Namespace) -> None:
    """The flow's max_wait: --max-wait, else JOBSTEP_MAX_WAIT, never longer than the flow can wait."""
    try:
        config = load_config(os.environ, read_code_file)
    except ConfigError as exc:
        args.usage.error(str(exc))
    longest = longest_wait(config.policy)
    given = f"argument --max-wait: {args.max_wait} s" if args.max_wait else f"JOBSTEP_MAX_WAIT is {config.max_wait} s"
    args.max_wait = args.max_wait or config.max_wait
    if args.max_wait > longest:
        args.usage.error(f"{given}, but a flow of at most {MAX_STATES} states waits at most {longest} s with this"
                         f" delay policy: give --max-wait {longest} or less (or raise JOBSTEP_MAX_DELAY: fewer,"
                         " longer sleeps); a timer trigger or an API Gateway client waits without that bound")


def _simulation_options(command: argparse.ArgumentParser) -> None:
    offline = command.add_argument_group("try it offline")
    offline.add_argument("--simulate", action="store_true",
                         help="answer from an embedded job API on loopback instead of the cloud (no account needed)")
    offline.add_argument("--job-seconds", type=options.JOB_SECONDS,
                         help=f"how long the simulated job runs (default {DEMO_SECONDS:.0f})")
    offline.add_argument("--job-fails", action="store_true", help="the simulated job ends with FAIL")
    offline.add_argument("--job-silent", action="store_true",
                         help="the simulated job says nothing of its progress (no percent, no sub-jobs)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jobstep", description=__doc__)
    top.add_argument("--version", action="version", version=f"jobstep {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="run the loop against an embedded simulator of the job API (no account needed)")
    polling = commands.add_parser("poll", help="call the step until the job ends; exit 0 SUCCESS, 1 FAIL, 2 otherwise")
    polling.add_argument("job_ids", nargs="*", type=options.JOB_ID, metavar="JOB_ID",
                         help=f"the job to wait for, or up to {MAX_JOBS} jobs to wait for together")
    polling.add_argument("--until", choices=[until.value for until in Until],
                         help="for several jobs: done when all succeeded (the default; one that did not ends the"
                         " wait), or when any one succeeded")
    polling.add_argument("--resume", metavar="RESULT",
                         help="go on from a result printed before (a file, - for standard input, or inline JSON)")
    polling.add_argument("--service", type=options.service,
                         help=f"the job's API (default: JOBSTEP_SERVICE or"
                         f" {DEFAULT_SERVICE})")
    polling.add_argument("--region", type=options.REGION, help="e.g. ap-southeast-1 (default: JOBSTEP_REGION)")
    polling.add_argument("--project-id", type=options.PROJECT_ID, help="default: HUAWEICLOUD_SDK_PROJECT_ID")
    polling.add_argument("--max-wait", type=options.SECONDS,
                         help="seconds before giving up with TIMEOUT (default 3600)")
    _simulation_options(polling)
    invoking = commands.add_parser("invoke", help="one call of the handler with a local context")
    invoking.add_argument("event", help="the event: a JSON file, - for standard input, or inline JSON")
    _simulation_options(invoking)
    packaging = commands.add_parser("package", help="build the FunctionGraph code package (ZIP) for template.yaml")
    packaging.add_argument("--out", default=str(DEFAULT_OUT), help=f"a file, or a folder (an existing one, or a path"
                           f" ending with /) (default: {DEFAULT_OUT})")
    flowing = commands.add_parser("flow", help="print a function flow (workflows API body) that loops the step")
    flowing.add_argument("--function-urn", required=True, type=options.FUNCTION_URN,
                         help="the deployed function's URN")
    flowing.add_argument("--max-wait", type=options.SECONDS,
                         help="seconds the flow waits at most (default: JOBSTEP_MAX_WAIT; at most as long as 100 states"
                         " allow)")
    deploy.add_parser(commands)
    start.add_parser(commands)
    for command in commands.choices.values():
        command.set_defaults(usage=command)  # a rule that spans options is reported with its command's usage
    return top


def _where_to_ask(args: argparse.Namespace) -> None:
    """A poll of the cloud needs a project and a region (or an endpoint): said in the command's terms, before any
    call, rather than as the function's answer to an event."""
    try:
        config = load_config(os.environ, read_code_file)
    except ConfigError as exc:
        args.usage.error(str(exc))
    if not (args.project_id or config.project_id):
        args.usage.error("give --project-id, or set HUAWEICLOUD_SDK_PROJECT_ID (or try it offline with --simulate)")
    if not (args.region or config.region or config.endpoint):
        args.usage.error("give --region (for example ap-southeast-1), or set JOBSTEP_REGION")


def parse(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The options, with the rules that span several of them; argparse exits 2 with a usage line otherwise (the
    subcommand's, for an option it does not have)."""
    args, unknown = parser().parse_known_args(argv)
    if unknown:
        args.usage.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command in ("poll", "invoke"):
        given = [option for option, value in (("--job-seconds", args.job_seconds is not None),
                                              ("--job-fails", args.job_fails), ("--job-silent", args.job_silent))
                 if value]
        if given and not args.simulate:
            args.usage.error(f"{' and '.join(given)}: only a simulated job has this; add --simulate")
        seconds = DEMO_SECONDS if args.job_seconds is None else args.job_seconds
        args.simulation = (Simulation(seconds, "FAIL" if args.job_fails else "SUCCESS", not args.job_silent)
                           if args.simulate else None)
    if args.command == "poll":
        if (not args.job_ids) == (args.resume is None):
            args.usage.error("give a JOB_ID (or several), or --resume RESULT to go on from a result printed before")
        if len(args.job_ids) > MAX_JOBS:
            args.usage.error(f"at most {MAX_JOBS} jobs can be waited on together, not {len(args.job_ids)}")
        if len(set(args.job_ids)) < len(args.job_ids):
            args.usage.error("a job is named twice")
        if args.until and len(args.job_ids) == 1:
            args.usage.error("--until is for several jobs: give two or more JOB_IDs")
        if args.job_ids and not args.simulate:
            _where_to_ask(args)
        if args.resume is not None:
            clashing = [option for option, name in (("--service", "service"), ("--region", "region"),
                                                     ("--project-id", "project_id"), ("--max-wait", "max_wait"),
                                                     ("--until", "until"))
                        if getattr(args, name)]
            if clashing:
                args.usage.error(f"{', '.join(clashing)} cannot change a resumed loop: the result carries its own")
    if args.command == "flow":
        _flow_wait(args)
    if args.command == "start":
        start.check(args, os.environ)
    return args


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": lambda args: demo(sys.stdout, sys.stderr),
    "poll": lambda args: poll(args, sys.stdout, sys.stderr),
    "invoke": lambda args: invoke(args, sys.stdout, sys.stderr),
    "package": lambda args: package(args.out, sys.stdout, sys.stderr),
    "flow": lambda args: flow(args.function_urn, args.max_wait, sys.stdout),
    "deploy": lambda args: deploy.run(args, sys.stdout, sys.stderr),
    "start": lambda args: start.run(args, sys.stdout, sys.stderr, exit_code, progress_line),
}


def interrupted(err: TextIO, message: str) -> int:
    """Says that Ctrl-C stopped the command, once: a second Ctrl-C while it says so is the same request."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print(message, file=err)
    return INTERRUPTED


def main(argv: Optional[list[str]] = None) -> int:
    args = parse(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:  # a command between its own checkpoints (a package build, say)
        return interrupted(sys.stderr, f"jobstep {args.command}: interrupted")
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and keep Python's exit-time flush from failing again
        # (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
