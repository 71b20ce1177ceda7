"""The invocation benchmark: what one call of the deployed handler costs, against a hand-written signed GET.

The loopback simulator runs in this process on the real clock; every measurement runs in a new
interpreter, so that neither side profits from what this process has imported. Cold: a new interpreter
imports `index` (or the baseline) and answers one event; the time is taken inside it, from before the
import to the answer, which is the part of a cold start the function controls (the runtime's own start
is the platform's). Warm: one interpreter calls the two sides in turn, hundreds of times per round, each
on its reused session. The job is RUNNING, as it is on most calls of a loop. Ratios are medians of pairs.
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from jobstep_tools.simulator import JobSimulator

from .polling import KEYS, PROJECT, Report

ROOT = Path(__file__).resolve().parent.parent
ZIP = ROOT / "dist" / "jobstep-fgs.zip"
PAIRS = 15
ROUNDS, CALLS = 15, 200
JOB_ID = "bench-job"

MAX_COLD_RATIO = 1.0
MAX_WARM_RATIO = 1.1
MAX_RSS_MIB = 40
MAX_ZIP_MIB = 3

# What FunctionGraph hands the handler: a context with the agency's temporary keys. Both sides import it
# before their timer starts (it loads nothing of jobstep).
_CONTEXT = """
import os
from jobstep_tools.local import LocalContext
context = LocalContext(os.environ["BENCH_AK"], os.environ["BENCH_SK"], os.environ["BENCH_TOKEN"], timeout=900)
"""
# Each child reports on stderr: the job status it read, seconds, and its peak RSS in KiB. VmHWM, not
# getrusage: on Linux ru_maxrss survives exec, so a child would report this (larger) process's peak.
_REPORT = """
with open("/proc/self/status") as status_file:
    peak = next(line.split()[1] for line in status_file if line.startswith("VmHWM:"))
sys.stderr.write(f"{status} {seconds} {peak}")
"""
_JOBSTEP_COLD = f"""
{_CONTEXT}
import time; began = time.perf_counter()
import os, sys
import index
answer = index.handler({{"job_id": os.environ["BENCH_JOB"]}}, context)
seconds, status = time.perf_counter() - began, answer["status"]
{_REPORT}
"""
_BASELINE_COLD = f"""
{_CONTEXT}
import time; began = time.perf_counter()
import os, sys
from bench.baseline import get_job
job = get_job(os.environ["JOBSTEP_ENDPOINT"], os.environ["RUNTIME_PROJECT_ID"], os.environ["BENCH_JOB"],
              os.environ["BENCH_AK"], os.environ["BENCH_SK"], os.environ["BENCH_TOKEN"])
seconds, status = time.perf_counter() - began, job["status"]
{_REPORT}
"""
# Calls alternate between the sides, and which goes first, so that a drift of the machine's speed
# (another process, a frequency change) falls on both alike.
_WARM = f"""
{_CONTEXT}
import json, os, sys, time
import index
from bench.baseline import get_job
event = {{"job_id": os.environ["BENCH_JOB"]}}
args = [os.environ[name] for name in ("JOBSTEP_ENDPOINT", "RUNTIME_PROJECT_ID", "BENCH_JOB", "BENCH_AK", "BENCH_SK",
                                      "BENCH_TOKEN")]
sides = {{"jobstep": lambda: index.handler(event, context)["status"], "baseline": lambda: get_job(*args)["status"]}}
statuses = {{side: call() for side, call in sides.items()}}  # connects, and warms both paths
rounds = []
for _ in range({ROUNDS}):
    seconds = dict.fromkeys(sides, 0.0)
    for number in range({CALLS}):
        for side in sorted(sides, reverse=number % 2 == 1):
            began = time.perf_counter()
            sides[side]()
            seconds[side] += time.perf_counter() - began
    rounds.append({{side: total / {CALLS} for side, total in seconds.items()}})
sys.stderr.write(json.dumps({{"statuses": statuses, "rounds": rounds}}))
"""


def _one_cpu() -> None:
    """Runs the child on one CPU, as the function runs: FunctionGraph gives a function CPU in proportion to its
    memory, 100 millicores for the template's 128 MB (huaweicloudsdkfunctiongraph's function models, `cpu`), so
    its threads never run on two cores at once. Both sides are measured so."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})


def _child(code: str, env: dict[str, str]) -> str:
    """Runs `code` in a new interpreter from the repository's root, on one CPU; its report on stderr."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False, preexec_fn=_one_cpu)
    if done.returncode != 0:
        raise RuntimeError(f"a benchmark child failed:\n{done.stderr}")
    return done.stderr


def _cold(code: str, env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of one cold answer, which must have read the RUNNING job."""
    status, seconds, rss = _child(code, env).split()
    if status != "RUNNING":
        raise RuntimeError(f"a cold child read the job as {status}")
    return float(seconds), int(rss)


def measure() -> dict[str, Any]:
    ak, sk, token = KEYS
    keys = {ak: (sk, token)}
    with JobSimulator(PROJECT, keys) as simulator:
        simulator.add_job(JOB_ID, init_seconds=0, run_seconds=10**9)
        env = {**os.environ, "JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT,
               "BENCH_JOB": JOB_ID, "BENCH_AK": ak, "BENCH_SK": sk, "BENCH_TOKEN": token}
        # Both sides start from bytecode, as a deployed package with its .pyc files does; a machine that
        # sets PYTHONDONTWRITEBYTECODE would otherwise make jobstep compile its sources in every cold run.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for code in (_JOBSTEP_COLD, _BASELINE_COLD):  # writes the bytecode caches: not counted as cold starts
            _cold(code, env)
        cold = []
        for number in range(PAIRS):
            first, second = (_JOBSTEP_COLD, _BASELINE_COLD) if number % 2 == 0 else (_BASELINE_COLD, _JOBSTEP_COLD)
            runs = {first: _cold(first, env), second: _cold(second, env)}
            cold.append((runs[_JOBSTEP_COLD], runs[_BASELINE_COLD]))
        warm = json.loads(_child(_WARM, env))
        rejected = sum(1 for seen in simulator.seen if seen.verdict)
    if rejected or set(warm["statuses"].values()) != {"RUNNING"}:
        raise RuntimeError(f"the simulator rejected {rejected} requests; warm statuses {warm['statuses']}")
    return {"cold": cold, "warm": warm["rounds"]}


def _mib(kib: float) -> float:
    return kib / 1024


def report() -> Report:
    """The table and the targets, and whether every target is met."""
    runs = measure()
    cold_js = [js for (js, _), _ in runs["cold"]]
    cold_base = [base for _, (base, _) in runs["cold"]]
    cold_ratio = statistics.median(js / base for (js, _), (base, _) in runs["cold"])
    rss_js = max(rss for (_, rss), _ in runs["cold"])
    rss_base = max(rss for _, (_, rss) in runs["cold"])
    warm_js = [r["jobstep"] for r in runs["warm"]]
    warm_base = [r["baseline"] for r in runs["warm"]]
    warm_ratio = statistics.median(r["jobstep"] / r["baseline"] for r in runs["warm"])
    zip_mib = ZIP.stat().st_size / 2**20 if ZIP.exists() else None

    def line(name: str, jobstep: str, baseline: str, ratio: str, target: str, ok: bool) -> str:
        return f"{name:<34} {jobstep:>10} {baseline:>10} {ratio:>7}  {target:<10} {'PASS' if ok else 'FAIL'}"

    checks = [cold_ratio <= MAX_COLD_RATIO, warm_ratio <= MAX_WARM_RATIO, _mib(rss_js) <= MAX_RSS_MIB,
              zip_mib is None or zip_mib <= MAX_ZIP_MIB]
    lines = [
        "Invocation: jobstep's handler against a hand-written signed GET (bench/baseline.py), loopback simulator",
        f"cold: median of {PAIRS} pairs of new interpreters (import + first answer); warm: median of {ROUNDS}"
        f" rounds of {CALLS} alternating calls",
        f"{'measure':<34} {'jobstep':>10} {'baseline':>10} {'ratio':>7}  {'target':<10}",
        line("cold: import + first answer, ms", f"{statistics.median(cold_js) * 1000:.1f}",
             f"{statistics.median(cold_base) * 1000:.1f}", f"{cold_ratio:.2f}x", f"<= {MAX_COLD_RATIO}x", checks[0]),
        line("warm: per call, ms", f"{statistics.median(warm_js) * 1000:.3f}",
             f"{statistics.median(warm_base) * 1000:.3f}", f"{warm_ratio:.2f}x", f"<= {MAX_WARM_RATIO}x", checks[1]),
        line("cold: peak memory (max RSS), MiB", f"{_mib(rss_js):.1f}", f"{_mib(rss_base):.1f}", "",
             f"<= {MAX_RSS_MIB} MiB", checks[2]),
    ]
    if zip_mib is None:
        lines.append(f"{'dist/jobstep-fgs.zip':<34} {'not built':>10}")
    else:
        lines.append(line("dist/jobstep-fgs.zip, MiB", f"{zip_mib:.2f}", "", "", f"<= {MAX_ZIP_MIB} MiB", checks[3]))
    return Report(lines, all(checks), [])
