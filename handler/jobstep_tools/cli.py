"""The `jobstep` command: run the step on a laptop as an orchestrator would (demo, poll, invoke), and make
what is deployed (package, flow)."""

import argparse
import json
import os
import secrets
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional, TextIO

from jobstep.client import new_session
from jobstep.config import ConfigError, load_config
from jobstep.model import Status
from jobstep.step import Runtime, handle, read_code_file

from .flow import definition, longest_wait
from .local import LocalContext
from .package import DEFAULT_OUT, PackageError, build
from .simulator import JobSimulator

EXIT_CODES = {Status.SUCCESS: 0, Status.FAIL: 1}  # TIMEOUT, ERROR and anything else that ends the loop: 2


def exit_code(result: dict[str, Any]) -> int:
    return EXIT_CODES.get(result.get("status"), 2) if result.get("done") else 0


def progress_line(result: dict[str, Any]) -> str:
    attempt = (result.get("poll") or {}).get("attempt")
    then = "done" if result["done"] else f"ask again in {result['retry_after']} s"
    problem = f"  ({result['error']['message']})" if result.get("error") else ""
    return f"call {attempt}: {result['status']:<8} {how_far(result.get('progress'))}{then}{problem}"


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


def run_loop(
    event: Any,
    invoke: Callable[[Any], dict[str, Any]],
    sleep: Callable[[float], None],
    progress: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Call the step until it says done, sleeping retry_after between calls: what an orchestrator does."""
    result = invoke(event)
    progress(result)
    while not result["done"]:
        sleep(result["retry_after"])
        result = invoke(result)
        progress(result)
    return result


DEMO_SECONDS = 5.0
# The demo job's sub-jobs (classic ELB's shape: entities.sub_jobs), and the second each one ends at.
DEMO_SUB_JOBS = (("createListener", 2.0), ("addMember", 3.0), ("addMember", 4.0), ("createHealthCheck", 5.0))


def demo_sub_jobs(elapsed: float) -> dict[str, Any]:
    return {"sub_jobs": [{"job_id": f"sub-{number}", "job_type": job_type,
                          "status": "SUCCESS" if elapsed >= ends else "RUNNING"}
                         for number, (job_type, ends) in enumerate(DEMO_SUB_JOBS)]}


def demo(out: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    """The whole loop against the embedded simulator, signed with an agency-style temporary key."""
    project_id = uuid.uuid4().hex
    ak, sk, token = secrets.token_hex(10).upper(), secrets.token_urlsafe(30), secrets.token_urlsafe(60)
    with JobSimulator(project_id, {ak: (sk, token)}) as simulator:
        job = simulator.add_job(uuid.uuid4().hex, init_seconds=1.0, run_seconds=DEMO_SECONDS - 1.0,
                                script=demo_sub_jobs)
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": project_id}
        runtime = Runtime(session=new_session(), environ=environ, log=lambda line: None)
        print(f"jobstep demo: a simulated job API at {simulator.base_url} checks every signature", file=out)
        print(f"job {job.job_id}: INIT for 1 s, then RUNNING while its {len(DEMO_SUB_JOBS)} sub-jobs end one by one,"
              f" then SUCCESS after {DEMO_SECONDS:.0f} s", file=out)
        result = run_loop(
            {"job_id": job.job_id},
            lambda event: handle(event, LocalContext(ak, sk, token), runtime),
            sleep,
            lambda answer: print("  " + progress_line(answer), file=out, flush=True),
        )
        rejected = sum(1 for seen in simulator.seen if seen.verdict)
        print(f"{len(simulator.seen)} signed requests, {rejected} rejected; the final result:", file=out)
    print(json.dumps(result, indent=2), file=out)
    return exit_code(result)


def poll(args: argparse.Namespace, out: TextIO, err: TextIO, sleep: Callable[[float], None] = time.sleep) -> int:
    event: dict[str, Any] = {"job_id": args.job_id}
    if args.region:
        event["region"] = args.region
    if args.project_id:
        event["project_id"] = args.project_id
    if args.max_wait:
        event["poll"] = {"max_wait": args.max_wait}
    # On a terminal a progress line per call; otherwise the function's own JSON log lines.
    if err.isatty():
        log, progress = (lambda line: None), (lambda answer: print(progress_line(answer), file=err, flush=True))
    else:
        log, progress = (lambda line: print(line, file=err)), (lambda answer: None)
    runtime = Runtime(session=new_session(), log=log)
    result = run_loop(event, lambda step_event: handle(step_event, LocalContext(), runtime), sleep, progress)
    print(json.dumps(result, indent=2), file=out)
    return exit_code(result)


def invoke(path: str, out: TextIO, err: TextIO) -> int:
    try:
        with (sys.stdin if path == "-" else open(path, encoding="utf-8")) as source:
            event = json.load(source)
    except (OSError, ValueError) as exc:
        print(f"jobstep invoke: cannot read a JSON event from {path}: {exc}", file=err)
        return 2
    runtime = Runtime(session=new_session(), log=lambda line: print(line, file=err))
    result = handle(event, LocalContext(), runtime)
    print(json.dumps(result, indent=2), file=out)
    return exit_code(result)


def package(path: Path, out: TextIO, err: TextIO) -> int:
    try:
        built = build(path)
    except PackageError as exc:
        print(f"jobstep package: {exc}", file=err)
        return 2
    print(f"built {built.path}: {built.size:,} bytes, {built.files} files, dependencies for Python {built.python}",
          file=out)
    print(f"left out of pip's install: {', '.join(built.left_out)}", file=out)
    if built.compiler:
        print(f"bytecode compiled by {built.compiler}", file=out)
    else:
        print(f"no Python {built.python} on this machine: the package has no bytecode, so each cold start"
              " compiles the sources first (about 120 ms more); build where that Python is installed", file=out)
    return 0


def flow(urn: str, max_wait: Optional[int], out: TextIO, err: TextIO) -> int:
    """The function-flow body for this function, with the delay knobs of this environment."""
    try:
        config = load_config(os.environ, read_code_file)
        body = definition(urn, config.policy, max_wait or min(config.max_wait, longest_wait(config.policy)))
    except (ConfigError, ValueError) as exc:
        print(f"jobstep flow: {exc}", file=err)
        return 2
    print(json.dumps(body, indent=2), file=out)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jobstep", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the loop against an embedded simulator of the job API (no account needed)")
    polling = commands.add_parser("poll", help="call the step until the job ends; exit 0 SUCCESS, 1 FAIL, 2 otherwise")
    polling.add_argument("job_id")
    polling.add_argument("--region", help="e.g. ap-southeast-1 (default: JOBSTEP_REGION)")
    polling.add_argument("--project-id", help="default: HUAWEICLOUD_SDK_PROJECT_ID")
    polling.add_argument("--max-wait", type=int, help="seconds before giving up with TIMEOUT (default 3600)")
    invoking = commands.add_parser("invoke", help="one call of the handler with a local context")
    invoking.add_argument("event", help="a JSON event file, or - for standard input")
    packaging = commands.add_parser("package", help="build the FunctionGraph code package (ZIP) for template.yaml")
    packaging.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    flowing = commands.add_parser("flow", help="print a function flow (workflows API body) that loops the step")
    flowing.add_argument("--function-urn", required=True, help="the deployed function's URN")
    flowing.add_argument("--max-wait", type=int, help="seconds the flow waits at most (default: JOBSTEP_MAX_WAIT,"
                         " or as long as 100 states allow)")
    return top


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": lambda args: demo(sys.stdout),
    "poll": lambda args: poll(args, sys.stdout, sys.stderr),
    "invoke": lambda args: invoke(args.event, sys.stdout, sys.stderr),
    "package": lambda args: package(args.out, sys.stdout, sys.stderr),
    "flow": lambda args: flow(args.function_urn, args.max_wait, sys.stdout, sys.stderr),
}


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
