"""The deployment agrees with the code: template.yaml, the index.handler entry, a warm session."""

import importlib.util
import re
from pathlib import Path

import pytest
import yaml
from helpers import PROJECT, TEMP_AK, TEMP_SK, TOKEN, agency
from jobstep.model import valid_region
from jobstep_tools.package import DEFAULT_OUT
from jobstep_tools.simulator import JobSimulator

ROOT = Path(__file__).resolve().parent.parent
CODE_ROOT = ROOT / "handler"
SUPPORTED_RUNTIMES = {"Python3.9", "Python3.10", "Python3.12"}  # FunctionGraph's Python 3 runtimes
PACKAGE_SOURCE = "\n".join(path.read_text() for path in (CODE_ROOT / "jobstep").glob("*.py"))


@pytest.fixture(scope="module")
def function():
    template = yaml.safe_load((ROOT / "template.yaml").read_text())
    assert template["HcCrmTemplateVersion"] == "v2"
    (resource,) = template["Resources"].values()
    assert resource["Type"] == "HC::Serverless::Function"
    return resource["Properties"]


@pytest.fixture(scope="module")
def index():
    """handler/index.py loaded the way FunctionGraph does: from the code root, by file name."""
    spec = importlib.util.spec_from_file_location("index", CODE_ROOT / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_handler_string_names_a_function_of_the_code_root(function, index):
    file_name, function_name = function["Handler"].split(".")
    assert (CODE_ROOT / f"{file_name}.py").is_file() and file_name == "index"
    assert callable(getattr(index, function_name))


def test_the_runtime_is_one_the_code_supports(function):
    assert function["Runtime"] in SUPPORTED_RUNTIMES
    assert function["CodeType"] == "zip" and function["CodeFileName"].endswith(".zip")
    assert 3 <= function["Timeout"] <= 900 and function["MemorySize"] >= 128


def test_the_code_file_is_the_zip_jobstep_package_writes(function):
    # The format names the code by its file name (the import package holds it beside the YAML), so the
    # name is DEFAULT_OUT's and no directory of this checkout leaks into it.
    assert function["CodeFileName"] == DEFAULT_OUT.name and "/" not in function["CodeFileName"]


def test_the_template_fixes_no_region_and_the_function_says_where_to_give_one(function, index, monkeypatch):
    # The format has no Parameters: the region comes from the event or JOBSTEP_REGION set on the function,
    # never from a value every deployment would inherit.
    variables = function["Environment"]["Variables"]
    assert "JOBSTEP_REGION" not in variables and not [value for value in variables.values() if valid_region(value)]
    for name in ("JOBSTEP_REGION", "JOBSTEP_ENDPOINT", "JOBSTEP_SERVICE", "JOBSTEP_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**variables, "RUNTIME_PROJECT_ID": PROJECT}.items():
        monkeypatch.setenv(name, value)

    answer = index.handler({"job_id": "job-1"}, agency())  # no region, no endpoint: nothing to send it to

    assert answer["done"] and answer["error"]["type"] == "configuration"
    assert "JOBSTEP_REGION" in answer["error"]["message"] and "event" in answer["error"]["message"]


def test_every_variable_is_one_the_code_reads(function):
    variables = function["Environment"]["Variables"]
    assert variables and all(isinstance(value, str) for value in variables.values())
    for name in variables:
        assert re.search(rf'"{name}"', PACKAGE_SOURCE), f"{name} is not read by the code"


def test_the_function_timeout_leaves_room_for_a_full_request(function):
    from jobstep.step import MARGIN_SECONDS, MAX_REQUEST_SECONDS

    assert function["Timeout"] >= MAX_REQUEST_SECONDS + MARGIN_SECONDS


def test_index_handler_answers_and_reuses_its_session_across_warm_calls(index, monkeypatch):
    # index.py brings its own runtime: the real clock and os.environ, so a simulator on real time.
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}) as simulator:
        simulator.add_job("job-1", init_seconds=0, run_seconds=60)
        monkeypatch.setenv("JOBSTEP_ENDPOINT", simulator.base_url)
        monkeypatch.setenv("RUNTIME_PROJECT_ID", PROJECT)

        first = index.handler({"job_id": "job-1"}, agency())
        second = index.handler(first, agency())

        assert (first["status"], second["status"]) == ("RUNNING", "RUNNING") and first["project_id"] == PROJECT
        assert second["poll"]["attempt"] == 2 and all(seen.verdict is None for seen in simulator.seen)
        assert simulator.connections == 1  # one keep-alive connection for both calls
