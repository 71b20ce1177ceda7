"""`jobstep deploy` against the FunctionGraph stand-in (tests/functiongraph.py) over real HTTP on 127.0.0.1: every
request signed by huaweicloudsdkfunctiongraph's own client and checked by the stand-in; nothing is mocked.

Each test says which mutation of the deploy code it catches."""

import argparse
import hashlib
import importlib
import io
import json
import logging
import re
import sys
import zipfile
from pathlib import Path

import huaweicloudsdkfunctiongraph.v2 as functiongraph_sdk
import jobstep_tools
import pytest
import yaml
from functiongraph import FunctionGraphStandIn, Invalid, load
from helpers import AK, PROJECT, SK, TEMP_AK, TEMP_SK, TOKEN, refusing_url
from jobstep.credentials import Credentials
from jobstep.policy import Policy
from jobstep_tools import agency, cli, deploy, start
from jobstep_tools.flow import definition
from jobstep_tools.package import DEFAULT_OUT

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-southeast-1"
AGENCY = "jobstep-reads-jobs"
ENVIRONMENT = {"JOBSTEP_REGION": REGION, "JOBSTEP_MAX_WAIT": "3600", "JOBSTEP_NOT_FOUND_GRACE": "60"}
REQUEST_LINE = re.compile(r"^\s*(GET|POST|PUT) (/\S+)$")


@pytest.fixture(autouse=True)
def environ(long_term_keys):
    return long_term_keys


@pytest.fixture
def stand_in():
    with FunctionGraphStandIn(PROJECT, {AK: (SK, None), TEMP_AK: (TEMP_SK, TOKEN)}, REGION) as server:
        yield server


def make_zip(path: Path, payload: bytes) -> Path:
    """A small code package: index.py at the root, and bytes of every value (the base64 must carry them all)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
        archive.writestr("payload.bin", payload)
    return path


@pytest.fixture
def code(tmp_path) -> Path:
    return make_zip(tmp_path / "jobstep-fgs.zip", bytes(range(256)) * 40)


def run_deploy(*arguments: str) -> tuple[int, str, str]:
    """The command as the CLI will wire it: a parser with the deploy subcommand, then run."""
    parser = argparse.ArgumentParser(prog="jobstep")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy.add_parser(commands)
    args = parser.parse_args(["deploy", *arguments])
    out, err = io.StringIO(), io.StringIO()
    return deploy.run(args, out, err), out.getvalue(), err.getvalue()


def options(stand_in: FunctionGraphStandIn, zip_path: Path, *more: str) -> list[str]:
    return ["--region", REGION, "--project-id", PROJECT, "--agency", AGENCY, "--zip", str(zip_path),
            "--endpoint", stand_in.base_url, *more]


def one_line(text: str) -> str:
    assert text.count("\n") == 1 and text.endswith("\n") and "Traceback" not in text, text
    assert text.startswith("jobstep deploy: "), text
    return text


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- what deploy sends --------------------------------------------------------------------------------------------


def test_the_operations_are_the_ones_the_sdk_calls():
    """Catches: a method, path or query name in deploy's operation table that is not the SDK's (the dry run would
    print a request the real run never sends)."""
    for operation in deploy.OPERATIONS:
        cls = getattr(functiongraph_sdk, operation.request_model)
        names = [name for name in cls.openapi_types if name != "body"]
        request = cls(**{name: "1" for name in names})
        info = getattr(functiongraph_sdk.FunctionGraphClient, f"_{operation.client_method}_http_info")(request)
        assert (info["method"], info["resource_path"]) == (operation.method, operation.path)
        assert info["request_type"] == operation.request_model
        assert tuple(name for name, _ in info["query_params"]) == operation.query
        assert set(info["path_params"]) == set(re.findall(r"{(\w+)}", operation.path)) - {"project_id"}
        assert cls.openapi_types.get("body") == operation.body_model


def test_the_function_settings_are_those_of_template_yaml():
    """Catches: deploy's settings drifting from template.yaml (handler, runtime, memory, timeout, variables)."""
    (resource,) = yaml.safe_load((ROOT / "template.yaml").read_text())["Resources"].values()
    properties = resource["Properties"]
    assert (properties["Name"], properties["Handler"], properties["Runtime"]) == (
        deploy.FUNCTION_NAME, deploy.HANDLER, deploy.RUNTIME)
    assert (properties["MemorySize"], properties["Timeout"]) == (deploy.MEMORY_SIZE, deploy.TIMEOUT)
    assert (properties["FuncType"], properties["Description"]) == (deploy.FUNC_TYPE, deploy.DESCRIPTION)
    assert properties["CodeFileName"] == DEFAULT_OUT.name
    variables = dict(properties["Environment"]["Variables"])
    variables.pop("JOBSTEP_REGION", None)  # deploy sets the jobs' region from --region
    assert variables == deploy.VARIABLES


def test_a_dry_run_prints_both_paths_and_sends_nothing(stand_in, code, environ):
    """Catches: a dry run that asks the API anything (even a list, or for keys), or that prints the ZIP's base64."""
    environ.delenv("HUAWEICLOUD_SDK_AK")
    environ.delenv("HUAWEICLOUD_SDK_SK")

    status, out, err = run_deploy(*options(stand_in, code, "--dry-run"))

    assert (status, err) == (0, "") and stand_in.seen == []
    requests = [REQUEST_LINE.match(line).groups() for line in out.splitlines() if REQUEST_LINE.match(line)]
    assert [method for method, _ in requests] == ["GET", "POST", "PUT", "PUT", "GET", "POST", "PUT"]
    assert f"<base64 of {code.stat().st_size:,} bytes, sha256 {sha256(code)}>" in out
    assert out.count(f"sha256 {sha256(code)}") == 3  # the heading, and the two bodies that carry the ZIP
    encoded = json.loads([line for line in out.splitlines() if '"func_code"' in line][0])["func_code"]["file"]
    assert encoded.startswith("<base64 of ")
    # Catches: the flow's 90 states printed on one line of 33,000 characters.
    assert max(map(len, out.splitlines())) < 1000 and '"states": "<90 states, as `jobstep flow` prints them>"' in out


def test_a_long_reason_is_cut_at_a_word():
    # Catches: a network error's reason cut mid-word.
    said = deploy.one_line(ValueError("connection " * 40 + "refused"), limit=50)

    assert said == "connection connection connection connection …" and len(said) <= 52


def test_the_endpoint_is_the_regions_in_the_sdks_table(code):
    """Catches: an endpoint made up instead of the SDK's region table, and a traceback for a region it lacks."""
    base = ["--project-id", PROJECT, "--agency", AGENCY, "--zip", str(code), "--dry-run"]

    status, out, _ = run_deploy("--region", REGION, *base)
    unknown, _, err = run_deploy("--region", "xx-nowhere-9", *base)

    assert status == 0 and "to https://functiongraph.ap-southeast-1.myhuaweicloud.com," in out.splitlines()[0]
    assert unknown == 2 and "no FunctionGraph endpoint for the region xx-nowhere-9: pass --endpoint" in one_line(err)


def test_the_dry_run_prints_the_requests_a_real_run_sends(stand_in, code):
    """Catches: the printed plan drifting from what is sent (a path, a query parameter, a method, a step)."""
    status, plan, _ = run_deploy(*options(stand_in, code, "--dry-run"))
    printed = {" ".join(REQUEST_LINE.match(line).groups()) for line in plan.splitlines() if REQUEST_LINE.match(line)}

    assert run_deploy(*options(stand_in, code))[0] == 0  # creates
    assert run_deploy(*options(stand_in, code))[0] == 0  # updates
    (workflow,) = stand_in.workflows.values()
    sent = {f"{seen.method} {seen.target}".replace(stand_in.urn("jobstep"), "{function_urn}")
            .replace(workflow.id, "{workflow_id}") for seen in stand_in.seen}
    assert status == 0 and sent == printed


def test_a_first_deploy_creates_the_function_and_the_flow_that_calls_it(stand_in, code):
    """Catches: a ZIP not sent byte for byte (its base64), a missing or wrong variable, agency or setting, and a flow
    that does not call the URN FunctionGraph answered, or whose body is not the one `jobstep flow` prints."""
    status, out, err = run_deploy(*options(stand_in, code))

    assert (status, err) == (0, "")
    function = stand_in.functions["jobstep"]
    assert hashlib.sha256(function.code).hexdigest() == sha256(code)
    assert function.environment == ENVIRONMENT
    settings = function.settings
    assert (settings["xrole"], settings["handler"], settings["runtime"]) == (AGENCY, "index.handler", "Python3.9")
    assert (settings["memory_size"], settings["timeout"], settings["package"]) == (128, 30, "default")
    (workflow,) = stand_in.workflows.values()
    urn = stand_in.urn("jobstep") + ":latest"  # what CreateFunction answered
    assert workflow.name == "jobstep-wait"
    assert workflow.body["functions"] == [{"name": "jobstep", "operation": urn, "metadata": {}}]
    printed = io.StringIO()
    assert cli.flow(urn, 3600, printed) == 0
    assert workflow.body == json.loads(printed.getvalue())
    assert out.splitlines() == [
        f"function jobstep: created, {urn} (code {code.stat().st_size:,} bytes, sha256 {sha256(code)[:12]},"
        f" agency {AGENCY})",
        f"flow jobstep-wait: created, id {workflow.id}, 90 states, waits up to 3600 s for {urn}",
    ]


def test_a_second_deploy_updates_the_function_and_the_flow_in_place(stand_in, code, tmp_path):
    """Catches: creating again (the stand-in answers 409), updating the code but not the configuration (the new
    agency), or the flow pointing elsewhere after an update (the list answers the URN without its version)."""
    assert run_deploy(*options(stand_in, code))[0] == 0
    (first,) = stand_in.workflows.values()
    newer = make_zip(tmp_path / "newer.zip", b"a newer build" * 100)
    before = len(stand_in.seen)

    status, out, err = run_deploy(*options(stand_in, newer, "--agency", "another-agency", "--max-wait", "600"))

    assert (status, err) == (0, "")
    assert [seen.method for seen in stand_in.seen[before:]] == ["GET", "PUT", "PUT", "GET", "PUT"]
    assert list(stand_in.functions) == ["jobstep"]
    function = stand_in.functions["jobstep"]
    assert hashlib.sha256(function.code).hexdigest() == sha256(newer) and function.code_filename == "newer.zip"
    assert function.settings["xrole"] == "another-agency" and function.environment == ENVIRONMENT
    (workflow,) = stand_in.workflows.values()
    assert workflow.id == first.id
    assert workflow.body["functions"] == first.body["functions"]
    assert workflow.body["constants"]["poll"] == {"max_wait": 600}
    assert [line.split(",")[0] for line in out.splitlines()] == ["function jobstep: updated",
                                                                 "flow jobstep-wait: updated"]


def test_functions_and_flows_with_names_that_only_contain_ours_are_left_alone(stand_in, code):
    """Catches: taking the first listed function or flow instead of the one named exactly (the name filters are not
    documented as exact, and the stand-in matches any name that contains them)."""
    other = stand_in.add_function("jobstep-old")
    stand_in.add_workflow("jobstep-wait-old")

    status, _, err = run_deploy(*options(stand_in, code))

    assert (status, err) == (0, "")
    assert stand_in.functions["jobstep-old"] == other
    assert sorted(workflow.name for workflow in stand_in.workflows.values()) == ["jobstep-wait", "jobstep-wait-old"]
    assert sha256(code) == hashlib.sha256(stand_in.functions["jobstep"].code).hexdigest()


def test_the_function_and_the_flow_are_found_on_a_later_page(code):
    """Catches: reading only the first page of ListFunctions or ListWorkflow (the second deploy would then create
    again, and the stand-in answers 409)."""
    with FunctionGraphStandIn(PROJECT, {AK: (SK, None)}, REGION, page_size=1) as stand_in:
        for suffix in "abc":
            stand_in.add_function(f"jobstep-{suffix}")
            stand_in.add_workflow(f"jobstep-wait-{suffix}")
        assert run_deploy(*options(stand_in, code))[0] == 0

        status, out, err = run_deploy(*options(stand_in, code))

        assert (status, err) == (0, "") and "jobstep: updated" in out and "jobstep-wait: updated" in out
        assert len(stand_in.functions) == len(stand_in.workflows) == 4


def test_temporary_keys_send_their_security_token(stand_in, code, environ):
    """Catches: leaving HUAWEICLOUD_SDK_SECURITY_TOKEN out of the credentials (temporary keys fail without it)."""
    environ.setenv("HUAWEICLOUD_SDK_AK", TEMP_AK)
    environ.setenv("HUAWEICLOUD_SDK_SK", TEMP_SK)
    environ.setenv("HUAWEICLOUD_SDK_SECURITY_TOKEN", TOKEN)

    status, _, err = run_deploy(*options(stand_in, code))

    assert (status, err) == (0, "") and "jobstep" in stand_in.functions


# ---- failures: one line, exit 2 ------------------------------------------------------------------------------------


def test_keys_the_api_refuses_give_one_line_and_exit_2(stand_in, code, environ):
    """Catches: an SDK exception escaping as a traceback, swallowed into exit 0, or the command going on after it."""
    environ.setenv("HUAWEICLOUD_SDK_SK", "not-the-secret-key-of-this-access-key")

    status, out, err = run_deploy(*options(stand_in, code))

    assert (status, out) == (2, "")
    assert "HTTP 401 APIGW.0301" in one_line(err) and "HUAWEICLOUD_SDK_SK" in err
    assert [seen.verdict for seen in stand_in.seen] == ["signature mismatch"]
    assert stand_in.functions == {}


def test_no_credentials_give_one_line_and_send_nothing(stand_in, code, environ):
    """Catches: building a client without keys (the SDK would then ask the ECS metadata service for some)."""
    environ.delenv("HUAWEICLOUD_SDK_SK")

    status, _, err = run_deploy(*options(stand_in, code))

    assert status == 2 and "set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK" in one_line(err)
    assert stand_in.seen == []


@pytest.mark.parametrize("make, says", [
    (lambda path: path, "does not exist: build it with `jobstep package`"),
    (lambda path: path.write_bytes(b"not a zip") and path, "is not a readable ZIP"),
    (lambda path: zipfile.ZipFile(path, "w").close() or path, "has no index.py at its root"),
])
def test_a_missing_or_wrong_zip_says_to_run_jobstep_package(stand_in, tmp_path, make, says):
    """Catches: uploading a file that is no code package, or failing on it with a traceback."""
    zip_path = make(tmp_path / "jobstep-fgs.zip")

    status, _, err = run_deploy(*options(stand_in, zip_path))

    assert status == 2 and says in one_line(err) and "jobstep package" in err
    assert stand_in.seen == []


def test_an_api_error_gives_its_code_and_message_in_one_line(stand_in, code):
    """Catches: losing FunctionGraph's error_code / error_msg, or going on to the flow after the function failed."""
    stand_in.fail("POST", r"/fgs/functions$", 400, "FSS.1002", "Invalid function name.")

    status, out, err = run_deploy(*options(stand_in, code))

    assert (status, out) == (2, "")
    assert "creating the function jobstep failed: HTTP 400 FSS.1002: Invalid function name." in one_line(err)
    assert [seen.method for seen in stand_in.seen] == ["GET", "POST"] and stand_in.workflows == {}


def test_an_unreachable_endpoint_gives_one_line_and_nothing_on_stderr(code, capsys, monkeypatch):
    """Catches: the SDK's own error log reaching stderr (its logger has no handler, so Python prints it)."""
    # As on a user's machine: pytest attaches its capture handlers to every non-propagating logger that exists.
    monkeypatch.setattr(logging.getLogger("HuaweiCloud-SDK-FunctionGraphClient"), "handlers", [])
    status, _, err = run_deploy("--region", REGION, "--project-id", PROJECT, "--agency", AGENCY, "--zip", str(code),
                                "--endpoint", refusing_url())

    assert status == 2 and "looking for the function jobstep failed: cannot reach" in one_line(err)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("change, variables, says", [
    (("--name", "9lives"), {}, "--name '9lives' is not a function name"),
    (("--region", "Mars"), {}, "--region must look like ap-southeast-1"),
    (("--region", None), {"JOBSTEP_REGION": "Mars"}, "JOBSTEP_REGION must look like ap-southeast-1"),
    (("--region", None), {}, "no region: pass --region"),
    (("--project-id", "0b2c-4e6a"), {}, "--project-id must be a project ID"),
    (("--project-id", None), {"HUAWEICLOUD_SDK_PROJECT_ID": "0b2c-4e6a"},
     "HUAWEICLOUD_SDK_PROJECT_ID must be a project ID"),
    (("--agency", None), {}, "pass --agency"),
    (("--agency", "reads jobs"), {}, "--agency must be an agency's name"),
    (("--max-wait", "0"), {}, "--max-wait must be a whole number of seconds from 1 to 4661"),
    (("--max-wait", "soon"), {}, "--max-wait must be a whole number of seconds from 1 to 4661"),
    (("--max-wait", "4662"), {}, "--max-wait must be a whole number of seconds from 1 to 4661"),
    (("--flow-name", ""), {}, "--flow-name must be 1-64 characters"),
    (("--endpoint", "http://functiongraph.example.com"), {}, "--endpoint must use https://"),
    (("--endpoint", "https://functiongraph.example.com/v2"), {}, "--endpoint must be a base URL"),
])
def test_an_invalid_option_is_named_as_typed(stand_in, code, environ, change, variables, says):
    """Catches: accepting a value the API would refuse (or that would send requests elsewhere), and a message that
    names the wrong option or variable."""
    arguments = options(stand_in, code)
    option, value = change
    if option in arguments:
        index = arguments.index(option)
        del arguments[index:index + 2]
    if value is not None:
        arguments += [option, value]
    for name, setting in variables.items():
        environ.setenv(name, setting)

    status, out, err = run_deploy(*arguments)

    assert (status, out) == (2, "") and says in one_line(err)
    assert stand_in.seen == []


def test_without_the_sdk_it_says_how_to_install_it(stand_in, code, monkeypatch):
    """Catches: importing the SDK at module level (the CLI imports jobstep_tools.deploy without the deploy extra)."""
    for name in [name for name in sys.modules if name.startswith("huaweicloudsdkfunctiongraph")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "huaweicloudsdkfunctiongraph", None)
    monkeypatch.delitem(sys.modules, "jobstep_tools.deploy")
    monkeypatch.setattr(jobstep_tools, "deploy", deploy)
    assert importlib.import_module("jobstep_tools.deploy") is not deploy  # imported afresh, without the SDK

    status, _, err = run_deploy(*options(stand_in, code))

    assert status == 2 and "install it with pip install '.[deploy]' in a clone of jobstep" in one_line(err)
    assert stand_in.seen == []


# ---- the stand-in can fail deploy -----------------------------------------------------------------------------------


def test_the_stand_in_refuses_a_flow_without_the_fields_the_sdk_marks_required(stand_in):
    """OperationState marks `end`, `actions` and `transition` required on every state, and the stand-in refuses a
    state without them as the API may. Catches: flow.py's definition() leaving them out of any kind of state."""
    sdk = deploy._import_sdk()
    args = argparse.Namespace(name=None, region=REGION, project_id=PROJECT, agency=AGENCY, zip="unused.zip",
                              flow_name=None, endpoint=stand_in.base_url, max_wait=None, dry_run=False)
    settings = deploy.settings_from(args, {})
    api = deploy._Api(sdk, settings, Credentials(AK, SK), stand_in.base_url)
    made = definition(stand_in.urn("jobstep") + ":latest", Policy(), 60)
    kinds = {state["type"]: number for number, state in enumerate(made["states"])}
    for number in kinds.values():
        stripped = {**made, "states": [{key: value for key, value in state.items()
                                        if not (place == number and key == "end")}
                                       for place, state in enumerate(made["states"])]}
        refused = api.send(deploy.create_workflow(settings, stripped))
        assert isinstance(refused, deploy.Stop) and "lacks the required field(s) end" in refused.message

    accepted = api.send(deploy.create_workflow(settings, made))

    assert set(kinds) == {"Operation", "Sleep", "End"}
    assert not isinstance(accepted, deploy.Stop) and accepted["name"] == "jobstep-wait"


@pytest.mark.parametrize("body, says", [
    ({"code_type": "zip", "func_code": {"file": "UEs="}, "extra": 1}, "unknown field(s) extra"),
    ({"func_code": {"file": "UEs="}}, "lacks the required field(s) code_type"),
    ({"code_type": "zip", "func_code": {"file": 7}}, "$.func_code.file must be a str"),
])
def test_the_stand_in_reads_bodies_into_the_sdks_models_strictly(body, says):
    """Catches (in the stand-in): a check too loose to fail a body the real API would refuse."""
    with pytest.raises(Invalid, match=re.escape(says)):
        load("UpdateFunctionCodeRequestBody", body)


KEYS_HINT = ("check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN with temporary keys),"
             " ")


@pytest.mark.parametrize("hints, status, code, said", [
    (deploy.FUNCTIONGRAPH, 401, "APIGW.0301", f"401 APIGW.0301: said; {KEYS_HINT}the project and this machine's clock"),
    (agency.IAM, 401, "401", f"401: said; {KEYS_HINT}this machine's clock"),
    (deploy.FUNCTIONGRAPH, 403, "FSS.0403", "403 FSS.0403: said; the IAM user needs FunctionGraph permissions in this"
     " project, e.g. the FunctionGraph FullAccess policy"),
    (agency.IAM, 403, "403", "403: said; creating an agency needs IAM permissions (e.g. the Security Administrator"
     " role): ask an administrator, or have one create the agency and pass only --agency"),
    (start.FUNCTIONGRAPH, 404, "FSS.1051", "404 FSS.1051: said; the flow or its execution is not there: deploy it"
     " with `jobstep deploy` (function flows are only in some regions: see FunctionGraph's documentation)"),
    (deploy.FUNCTIONGRAPH, 404, "FSS.1051", "404 FSS.1051: said; fix what it says and run the command again (it"
     " updates what exists)"),
    (deploy.FUNCTIONGRAPH, 429, "APIGW.0308", "429 APIGW.0308: said; FunctionGraph is busy or failing: run the"
     " command again in a minute (it updates what exists)"),
    (agency.IAM, 500, "500", "500: said; IAM is busy or failing: run the command again in a minute (it keeps what"
     " exists)"),
    (start.FUNCTIONGRAPH, 499, "FSS.0499", "499 FSS.0499: said; fix what it says and run the command again"),
])
def test_an_error_answer_says_what_to_do_for_its_status_and_its_api(hints, status, code, said):
    # The hints' table (deploy.explain) for each command. Catches: a status sent to another row (a 404 that is not
    # start's read as a missing flow, 499 read as the API failing), a hint of one API given for another (IAM has no
    # project to check), or a code that repeats the status.
    assert deploy.explain(hints, "doing it", status, code, " said ") == f"{hints.prog}: doing it failed: HTTP {said}"
