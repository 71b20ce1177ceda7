"""The code package: what `jobstep package` ships, and its handler answering from the ZIP alone."""

import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path, PurePosixPath

import pytest
import yaml
from helpers import AK, PROJECT, SK
from jobstep_tools import cli, deploy, package
from jobstep_tools.local import Clock
from jobstep_tools.simulator import JobSimulator

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = (ROOT / "template.yaml").read_text()
# What pip installs for requests and huaweicloudsdkcore that the handler never loads.
LEFT_OUT = ("pymongo", "bson", "gridfs", "yaml", "_yaml", "simplejson", "requests_toolbelt", "dns", "six.py",
            "defusedxml", "bin")
SHIPPED = {"requests", "urllib3", "idna", "certifi", "charset_normalizer", "pyasn1", "huaweicloudsdkcore"}

# The function's side, run in its Python with nothing but the unpacked package on sys.path. It plays
# FunctionGraph and the orchestrator (jobstep_tools.loop): the handler's log lines go to stderr, each answer to
# stdout, and the loop's sleep waits for a line from the test, which moves the simulator's clock by retry_after.
DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.append(sys.argv[3])  # for jobstep_tools only: the ZIP, first, provides index and jobstep
answers, sys.stdout = sys.stdout, sys.stderr
import index
from jobstep_tools.local import LocalContext  # no agency keys: HUAWEICLOUD_SDK_AK/SK sign
from jobstep_tools.loop import loop, result_of

def invoke(event):
    return result_of(index.handler(event, LocalContext(request_id="req-package")))

for answer in loop({"job_id": sys.argv[2]}, invoke, lambda seconds: sys.stdin.readline()):
    print(json.dumps(answer), file=answers, flush=True)
loaded = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
print(json.dumps(sorted(name for name in loaded if name)), file=answers, flush=True)
import importlib.util
print(importlib.util.MAGIC_NUMBER.hex(), file=answers, flush=True)
"""


def function_python() -> str:
    """The template's Python if this machine has it, else the one running the tests."""
    return package.function_python(package.runtime_python(deploy.RUNTIME)) or sys.executable


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build through the CLI (pip's download is most of its time), given a folder as `--out DIR` is, which
    gets the default file name (catches: the IsADirectoryError of writing the ZIP onto the folder); the ZIP and
    what the CLI printed."""
    folder = tmp_path_factory.mktemp("dist")
    out, err = io.StringIO(), io.StringIO()
    assert cli.package(str(folder), out, err) == 0, err.getvalue()
    path = folder / package.DEFAULT_OUT.name
    assert path.is_file() and [entry.name for entry in folder.iterdir()] == [path.name]
    return path, out.getvalue()


@pytest.fixture(scope="module")
def unpacked(built, tmp_path_factory):
    root = tmp_path_factory.mktemp("fgs")
    with zipfile.ZipFile(built[0]) as archive:
        archive.extractall(root)
    return root


@pytest.fixture(scope="module")
def names(built):
    with zipfile.ZipFile(built[0]) as archive:
        return archive.namelist()


@pytest.mark.slow
def test_index_is_at_the_root_beside_the_jobstep_package(names):
    assert "index.py" in names and "jobstep/__init__.py" in names and "jobstep/step.py" in names
    assert not [name for name in names if name.startswith("jobstep_tools/")]  # the developer side stays home


@pytest.mark.slow
def test_what_the_function_never_imports_is_left_out(names, built):
    tops = {name.split("/")[0] for name in names} - {"__pycache__"}  # index.py's bytecode
    assert {top for top in tops if not top.endswith(".dist-info")} == SHIPPED | {"index.py", "jobstep"}
    assert {top.split("-")[0] for top in tops if top.endswith(".dist-info")} == SHIPPED
    shipped = {name for name in names if name.startswith("jobstep/") and name.endswith(".py")}
    assert shipped == {f"jobstep/{path.name}" for path in (package.CODE_ROOT / "jobstep").glob("*.py")}
    sources = {name for name in names if name.endswith(".py")}
    for name in (name for name in names if name.endswith(".pyc")):  # only the bytecode of shipped sources
        compiled = PurePosixPath(name)
        source = compiled.parent.parent / (compiled.name.split(".")[0] + ".py")
        assert compiled.parent.name == "__pycache__" and compiled.name.endswith(".cpython-39.pyc")
        assert str(source) in sources, name
    assert "huaweicloudsdkcore/client.py" not in names and "huaweicloudsdkcore/signer/signer.py" in names
    assert f"left out of pip's install: {', '.join(sorted(LEFT_OUT))}" in built[1]


@pytest.mark.slow
def test_the_package_is_small_and_the_cli_says_what_it_built(built, names):
    path, printed = built
    size = path.stat().st_size
    assert size <= 3 * 1024 * 1024
    assert f"built {path}: {size:,} bytes, {len(names)} files, dependencies for Python 3.9" in printed


@pytest.mark.slow
def test_the_licences_of_what_ships_ship_with_it(names):
    licences = {name.split("-")[0] for name in names if ".dist-info/" in name and "LICENSE" in name.upper()}
    assert licences == SHIPPED
    assert not [name for name in names if name.endswith(".dist-info/RECORD")]


@pytest.mark.slow
def test_two_builds_give_the_same_bytes(built, names, tmp_path):
    # A second build from scratch: its own pip install, and its own compiler process, whose string
    # hashes are seeded afresh (the bytecode of a frozenset constant followed them before).
    again = package.build(tmp_path / "again.zip").path
    first, second = (hashlib.sha256(path.read_bytes()).hexdigest() for path in (built[0], again))
    if first != second:
        with zipfile.ZipFile(built[0]) as one, zipfile.ZipFile(again) as other:
            differ = [info.filename for info in one.infolist()
                      if info.filename not in other.namelist() or other.getinfo(info.filename).CRC != info.CRC]
        pytest.fail(f"two builds differ: {first} and {second}, in {differ[:10]}")
    with zipfile.ZipFile(built[0]) as archive:
        assert names == sorted(names)
        assert {info.date_time for info in archive.infolist()} == {package.FIXED_TIME}


def test_the_compiler_gets_a_fixed_hash_seed_and_none_of_our_python_settings():
    environ = package.compiler_environ({"PATH": "/usr/bin", "PYTHONPATH": "/elsewhere", "PYTHONHASHSEED": "random"})
    assert environ.pop("PYTHONHASHSEED").isdigit()  # an integer seeds the hash; "random" does not
    assert environ == {"PATH": "/usr/bin"}


def test_the_index_py_a_package_holds_is_the_checkouts():
    # Catches: an index.py written into the ZIP that differs from handler/index.py, which FunctionGraph and the
    # benchmarks load from a checkout (an install has no handler/: the ZIP's comes from INDEX_SOURCE).
    assert (ROOT / "handler" / "index.py").read_text() == package.INDEX_SOURCE


def test_the_default_output_is_the_templates_code_file():
    (function,) = yaml.safe_load(TEMPLATE)["Resources"].values()
    assert package.DEFAULT_OUT.name == function["Properties"]["CodeFileName"]
    assert cli.zip_path(cli.parser().parse_args(["package"]).out) == package.DEFAULT_OUT


def test_an_old_pip_is_refused_with_the_command_that_fixes_it(monkeypatch):
    monkeypatch.setattr(package.metadata, "version", lambda name: "23.2.1")
    with pytest.raises(package.PackageError, match="pip install --upgrade pip"):
        package.check_pip()


@pytest.mark.slow
def test_the_packaged_handler_answers_from_the_zip_alone_in_the_functions_python(unpacked, names):
    python = function_python()
    clock = Clock(time.time())  # near real time: the simulator rejects a signature dated 15 minutes off
    with JobSimulator(PROJECT, {AK: (SK, None)}, clock=clock) as simulator:
        simulator.add_job("job-package", init_seconds=2, run_seconds=3)
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT,
                   "HUAWEICLOUD_SDK_AK": AK, "HUAWEICLOUD_SDK_SK": SK}
        driver = [python, "-I", "-S", "-c", DRIVER, str(unpacked), "job-package", str(package.CODE_ROOT)]
        with subprocess.Popen(driver, env=environ,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as child:
            watchdog = threading.Timer(60, child.kill)  # a hung child must not hang the suite
            watchdog.start()
            answers = []
            for line in iter(child.stdout.readline, ""):
                if answers and answers[-1]["done"]:
                    loaded = json.loads(line)
                    magic = bytes.fromhex(child.stdout.readline().strip())
                    break
                answers.append(json.loads(line))
                if not answers[-1]["done"]:
                    clock.advance(answers[-1]["retry_after"])
                    child.stdin.write("\n")
                    child.stdin.flush()
            else:
                pytest.fail(f"the packaged handler stopped answering ({python}):\n{child.stderr.read()}")
            watchdog.cancel()
            assert child.wait() == 0, child.stderr.read()

    statuses = [answer["status"] for answer in answers]
    assert statuses[0] == "INIT" and "RUNNING" in statuses and statuses[-1] == "SUCCESS", statuses
    assert [answer["poll"]["attempt"] for answer in answers] == list(range(1, len(answers) + 1))
    assert len(simulator.seen) == len(answers) and all(seen.verdict is None for seen in simulator.seen)
    assert simulator.connections == 1  # the warm instance's session is reused across calls

    # The trace: every jobstep and SDK module shipped is one the handler loaded, all from the package.
    from_package = {Path(name).relative_to(unpacked).as_posix() for name in loaded
                    if Path(name).is_relative_to(unpacked)}
    for prefix in ("jobstep/", "huaweicloudsdkcore/"):
        shipped = {name for name in names if name.startswith(prefix) and name.endswith(".py")}
        assert shipped == {name for name in from_package if name.startswith(prefix)}, prefix
    assert "index.py" in from_package and not [name for name in loaded if "site-packages" in name]

    # Bytecode compiled by this very Python, hash-based and unchecked: loaded as it is, never recompiled.
    compiled = [name for name in names if name.endswith(".pyc")]
    assert bool(compiled) == (package.function_python(package.runtime_python(deploy.RUNTIME)) is not None)
    for name in compiled:
        header = (unpacked / name).read_bytes()[:8]
        assert header[:4] == magic and int.from_bytes(header[4:8], "little") == 0b01, name
