"""make mutate: mutation testing of the decision modules with mutmut, each against the fast tests that pin it.

    python tools/mutate.py [MODULE ...]     (make mutate [MODULES="events errors"])

tools/mutate.toml names the modules, each held to the target, the test files each runs against (less the tests
marked slow), the functions mutated where not all of them are, and the mutants recorded as equivalent, each with its
reason. For each module, in build/mutate/MODULE/ (mutmut 3 looks
for the code under src/, so src/ there is a link to handler/): `mutmut run`, then every mutant not killed is
matched against the equivalents. What is printed, and written to build/mutate/report.md: per module, the mutants,
killed, equivalent and survived, the prose mutants apart (below), the time; each survivor with its diff; the
equivalents that no longer match a mutant. Exit status 1 when a module has a survivor or kills less
than the target share of its mutants.

Prose: a mutant that only rewrites the words of a message (mutmut wraps a string in XX or flips its case; a string
of two words or more separated by spaces is prose) changes what a person reads, not what jobstep decides. Such
mutants are counted apart and not scored, whether killed or not; a string that is not prose (a key, a status, a
separator, a header) is scored like any code.

Python 3.9 syntax, like the project; mutmut itself needs Python 3.10 or newer.
"""

import ast
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tokenize
from fnmatch import fnmatchcase
from importlib.metadata import version
from io import StringIO
from pathlib import Path
from typing import Any, NamedTuple, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra brings tomli to 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutate.toml"
WORK = ROOT / "build" / "mutate"
# What the tests read besides themselves and the code: mutmut runs them in a copy (mutants/) of the stage.
ALSO_COPY = ("README.md", "docs", "flows", "template.yaml")
# mutmut's statuses (mutmut/stats.py) that mean the tests noticed the mutant: a failing test, a hang, a crash.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
MUTMUT = Path(sys.executable).parent / "mutmut"


class Mutant(NamedTuple):
    name: str  # mutmut's: jobstep.events.x__parameter__mutmut_9, jobstep.model.xǁPollǁto_dict__mutmut_3
    status: str  # mutmut's word
    function: str = ""  # as the equivalents name it: _parameter, Poll.to_dict
    before: str = ""  # the changed lines, stripped, one per line
    after: str = ""
    diff: str = ""

    @property
    def killed(self) -> bool:
        return self.status in KILLED


class Figures(NamedTuple):
    module: str
    mutants: int
    killed: int
    equivalent: int
    survivors: list[Mutant]
    prose: int
    prose_killed: int
    timeouts: int
    seconds: float

    @property
    def scored(self) -> int:
        return self.mutants - self.prose

    @property
    def share(self) -> float:
        return self.killed / self.scored if self.scored else 1.0


def function_of(name: str) -> str:
    """The mutated function as the equivalents name it: `_parameter`, `Poll.to_dict`."""
    mangled = name.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("xǁ"):
        return ".".join(mangled[2:].split("ǁ"))
    return mangled[2:]  # x_<name>


def changed_lines(diff: str) -> tuple[str, str]:
    lines = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@", "#"))]
    before = "\n".join(line[1:].strip() for line in lines if line.startswith("-"))
    after = "\n".join(line[1:].strip() for line in lines if line.startswith("+"))
    return before, after


def _tokens(line: str) -> list[tuple[int, str]]:
    """The tokens of one line of code, as far as it reads alone (a line inside brackets ends in a tokenize error)."""
    found: list[tuple[int, str]] = []
    try:
        for token in tokenize.generate_tokens(StringIO(line).readline):
            if token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.COMMENT):
                found.append((token.type, token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


_PROSE = re.compile(r"[A-Za-z]{2,}\W*\s+\W*[A-Za-z]{2,}")


def is_prose(before: str, after: str) -> bool:
    """Whether the mutant only rewrote one string of words: the same tokens but one string, wrapped in XX or in
    another case, whose text holds two words or more separated by spaces."""
    if not before or "\n" in before or "\n" in after:
        return False
    old, new = _tokens(before), _tokens(after)
    if len(old) != len(new):
        return False
    changed = [(was, now) for was, now in zip(old, new) if was != now]
    if len(changed) != 1 or changed[0][0][0] != tokenize.STRING or changed[0][1][0] != tokenize.STRING:
        return False
    was, now = changed[0][0][1], changed[0][1][1]
    quote = min(position for position in (was.find('"'), was.find("'")) if position >= 0)
    prefix, body = was[:quote + 1], was[quote + 1:-1]
    if not _PROSE.search(body) or "f" in prefix.lower():
        return False
    return now in (f"{prefix}XX{body}XX{was[-1]}", f"{prefix}{body.upper()}{was[-1]}",
                   f"{prefix}{body.lower()}{was[-1]}")


def load_config() -> dict[str, Any]:
    with open(CONFIG, "rb") as file:
        config: dict[str, Any] = tomllib.load(file)
    return config


def patterns(module: str, functions: list[str]) -> list[str]:
    """mutmut's mutant-name patterns for the functions of a module (all of them when none are named)."""
    if not functions:
        return [f"jobstep.{module}.*"]
    found = []
    for function in functions:
        if "." in function:  # Class.method; "*" for any class
            klass, _, method = function.partition(".")
            found.append(f"jobstep.{module}.xǁ{klass}ǁ{method}__mutmut_*")
        else:
            found.append(f"jobstep.{module}.x_{function}__mutmut_*")
    return found


def stage(module: str, settings: dict[str, Any]) -> Path:
    """build/mutate/MODULE: the code (src/, a link to handler/), the tests and what they read, and mutmut's
    configuration; made anew, so that no result of an earlier run is reused."""
    where = WORK / module
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    (where / "src").symlink_to(ROOT / "handler")
    (where / "tests").symlink_to(ROOT / "tests")
    for name in ALSO_COPY:
        (where / name).symlink_to(ROOT / name)
    tests = settings["tests"]
    missing = [test for test in tests if not (ROOT / test).is_file()]
    if missing:
        sys.exit(f"tools/mutate.toml: {module}'s tests {', '.join(missing)} do not exist")
    # Arrays of plain strings are written alike in JSON and TOML.
    (where / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        f"source_paths = {json.dumps(['src'])}\n"
        f"only_mutate = {json.dumps([f'src/jobstep/{module}.py'])}\n"
        f"also_copy = {json.dumps(list(ALSO_COPY))}\n"
        f"pytest_add_cli_args = {json.dumps(['-p', 'no:cacheprovider', '-m', 'not slow'])}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        # Each mutant's pytest is forked from a process that has only collected the tests: one forked from a
        # process that ran them inherits jobstep.client's idle query threads as objects without threads, and
        # every query through them waits out its budget (a false kill, seconds late).
        'process_isolation = "forkserver"\n'
        'forkserver_warmup = "collect"\n'
        "\n[tool.pytest.ini_options]\n"
        f"markers = {json.dumps(['slow: a second or more of real time'])}\n"
    )
    return where


def mutmut(where: Path, *arguments: str, log: Optional[Path] = None) -> str:
    environ = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is None:
        done = subprocess.run([str(MUTMUT), *arguments], cwd=where, capture_output=True, text=True, env=environ)
        if done.returncode:
            sys.exit(f"mutmut {' '.join(arguments)} failed in {where}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return done.stdout
    with open(log, "w") as out:
        code = subprocess.run([str(MUTMUT), *arguments], cwd=where, stdout=out, stderr=subprocess.STDOUT,
                              env=environ).returncode
    if code:
        tail = log.read_text(errors="replace").replace("\r", "\n")[-4000:]
        sys.exit(f"mutmut {' '.join(arguments)} failed (exit {code}) in {where}; its log, {log}, ends:\n{tail}")
    return ""


def mutant_sources(where: Path, module: str) -> dict[str, tuple[str, str]]:
    """Each mutant's function and the original it mutates, as mutmut wrote them into its copy of the module
    (`<mangled>__mutmut_orig`, `<mangled>__mutmut_<n>`), both under the original's name."""
    path = where / "mutants" / "src" / "jobstep" / f"{module}.py"
    source = path.read_text()
    lines = source.splitlines()
    functions = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name:
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            text = "\n".join(lines[first - 1:node.end_lineno])
            mangled, _, suffix = node.name.partition("__mutmut_")
            functions[(mangled, suffix)] = text.replace(node.name, mangled, 1)
    return {f"jobstep.{module}.{mangled}__mutmut_{suffix}": (functions[(mangled, "orig")], text)
            for (mangled, suffix), text in functions.items() if suffix != "orig" and (mangled, "orig") in functions}


def diff_of(original: str, mutated: str, where: str) -> str:
    return "\n".join(difflib.unified_diff(original.splitlines(), mutated.splitlines(), where, where, n=2,
                                          lineterm=""))


def run_module(module: str, settings: dict[str, Any], equivalents: list[dict[str, str]],
               children: int) -> tuple[Figures, set[int]]:
    """One module's mutants, run and sorted; and which equivalents matched one of them."""
    started = time.monotonic()
    where = stage(module, settings)
    wanted = patterns(module, settings.get("functions", []))
    print(f"mutate {module}: mutmut run against {' '.join(settings['tests'])} ...", flush=True)
    mutmut(where, "run", "--max-children", str(children), *wanted, log=where / "mutmut.log")
    sources = mutant_sources(where, module)
    mutants = []
    for line in mutmut(where, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name.startswith(f"jobstep.{module}.") and any(fnmatchcase(name, pattern) for pattern in wanted):
            diff = diff_of(*sources[name], f"handler/jobstep/{module}.py")
            before, after = changed_lines(diff)
            mutants.append(Mutant(name, status, function_of(name), before, after, diff))
    if not mutants:
        sys.exit(f"mutate {module}: mutmut listed no mutant of {', '.join(wanted)}")
    killed = equivalent = prose = prose_killed = timeouts = 0
    survivors, matched = [], set()
    for mutant in mutants:
        timeouts += mutant.status == "timeout"
        if is_prose(mutant.before, mutant.after):
            prose += 1
            prose_killed += mutant.killed
            continue
        if mutant.killed:
            killed += 1
            continue
        hit = next((index for index, entry in enumerate(equivalents)
                    if entry["module"] == module and entry["function"] == mutant.function
                    and entry["before"].strip() == mutant.before and entry["after"].strip() == mutant.after), None)
        if hit is not None:
            equivalent += 1
            matched.add(hit)
        else:
            survivors.append(mutant)
    figures = Figures(module, len(mutants), killed, equivalent, survivors, prose, prose_killed, timeouts,
                      time.monotonic() - started)
    return figures, matched


def table(rows: list[Figures]) -> list[str]:
    lines = ["| module | scored mutants | killed | equivalent | survived | killed share | prose (killed) | time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row.module} | {row.scored} | {row.killed} | {row.equivalent} | {len(row.survivors)} |"
                     f" {row.share:.1%} | {row.prose} ({row.prose_killed}) | {row.seconds / 60:.1f} min |")
    lines.append("")
    lines.append("Killed counts the mutants a test failed on, timed out on ("
                 f"{sum(row.timeouts for row in rows)} here) or crashed on; the killed share is of the scored mutants,"
                 " the prose ones apart.")
    return lines


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10) or not MUTMUT.exists():
        print("make mutate needs mutmut, which needs Python 3.10 or newer: make clean && make mutate"
              " PYTHON=python3.10 (or newer)", file=sys.stderr)
        return 2
    config = load_config()
    modules = config["modules"]
    names = argv or list(modules)
    unknown = [name for name in names if name not in modules]
    if unknown:
        print(f"tools/mutate.toml names no module {', '.join(unknown)}; it has {', '.join(modules)}",
              file=sys.stderr)
        return 2
    target = float(config.get("target", 0.9))
    equivalents: list[dict[str, str]] = config.get("equivalent", [])
    for entry in equivalents:
        if not entry.get("why", "").strip():
            print(f"tools/mutate.toml: the equivalent {entry} gives no reason (why)", file=sys.stderr)
            return 2
    children = int(os.environ.get("MUTATE_CHILDREN", os.cpu_count() or 2))
    started = time.monotonic()
    rows, matched = [], set()
    for name in names:
        figures, hits = run_module(name, modules[name], equivalents, children)
        rows.append(figures)
        matched |= hits
        print(f"mutate {name}: {figures.killed} of {figures.scored} killed ({figures.share:.1%}),"
              f" {figures.equivalent} equivalent, {len(figures.survivors)} survived; {figures.prose} prose"
              f" ({figures.prose_killed} killed); {figures.seconds / 60:.1f} min", flush=True)
    report = [f"# make mutate: {' '.join(names)}", "",
              f"mutmut {version('mutmut')}, {children} children,"
              f" {(time.monotonic() - started) / 60:.1f} min in all; target {target:.0%} killed of the scored"
              " mutants (prose apart), the rest equivalent.", "", *table(rows), ""]
    for row in rows:
        for mutant in row.survivors:
            report += [f"## survived: {mutant.name} ({row.module}, {mutant.function}, {mutant.status})", "",
                       "```diff", mutant.diff.strip(), "```", ""]
    ran = set(names)
    stale = [entry for index, entry in enumerate(equivalents) if entry["module"] in ran and index not in matched]
    for entry in stale:
        report += [f"## stale equivalent: {entry['module']} {entry['function']}: {entry['before']!r} ->"
                   f" {entry['after']!r} matches no mutant now; remove it from tools/mutate.toml", ""]
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "report.md").write_text("\n".join(report))
    print("\n".join(report))
    short = [row.module for row in rows if (row.survivors or row.share < target)]
    if short or stale:
        print(f"make mutate: {', '.join(short) or 'no module'} short of the target; {len(stale)} stale equivalents",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
