"""`jobstep deploy`: create or update the function from the built ZIP with template.yaml's settings and an agency,
then the function flow that loops it, through huaweicloudsdkfunctiongraph's FunctionGraphClient.

Functional core: pure functions turn plain data (the checked options, the ZIP, the API's answers as dicts) into the
requests to send, each a `Call` (an `Operation`, its parameters, its JSON body), and read the answers.
Imperative shell: `run` reads the environment and the ZIP, and `_Api` turns each Call into the SDK's request model,
sends it and hands back the answer as a dict, or a `Stop`: errors are values, and each says what to do.

The SDK is imported on the command's path only: the `jobstep` CLI imports this module without the `deploy` extra.
"""

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional, TextIO, Union
from urllib.parse import urlencode

from jobstep.config import base_url, load_config
from jobstep.credentials import Credentials, credentials_problem, find_credentials
from jobstep.model import ConfigError, valid_region
from jobstep.step import read_code_file

from .flow import definition, longest_wait
from .package import DEFAULT_OUT

if TYPE_CHECKING:  # agency.py builds on this module: it is imported where it is used
    from . import agency

PROG = "jobstep deploy"
INSTALL = "pip install '.[deploy]' in a clone of jobstep (its deploy extra)"

# The function of template.yaml (tests/test_deploy_command.py checks that the two agree). The template format has
# no key for the agency, which is why deploy sets it (`xrole`) from --agency.
FUNCTION_NAME = "jobstep"
HANDLER = "index.handler"
RUNTIME = "Python3.9"
MEMORY_SIZE = 128
TIMEOUT = 30
FUNC_TYPE = "v2"  # the template's FuncType; CreateFunctionRequestBody.type ("v1" when absent)
DESCRIPTION = "Queries one Huawei Cloud asynchronous job and answers done or retry-after"
# The template leaves the jobs' region to whoever creates the function: deploy adds JOBSTEP_REGION from --region.
VARIABLES = {"JOBSTEP_MAX_WAIT": "3600", "JOBSTEP_NOT_FOUND_GRACE": "60"}
# "default" is the app (package) the API reference's examples and Terraform's huaweicloud_fgs_function use.
PACKAGE = "default"
FLOW_NAME = "jobstep-wait"  # flow.definition's default name

# Paging: ListFunctions answers at most 400 a page, ListWorkflow 200 (API reference functiongraph_06_0105, _06_1003).
FUNCTIONS_PAGE = 400
WORKFLOWS_PAGE = 200
MAX_PAGES = 100  # a guard against an answer whose marker never moves

# Option checks, from the API reference: function names (CreateFunction, functiongraph_06_0108: 1-60 letters, digits,
# '-' and '_', starting with a letter, ending with a letter or digit); project IDs (32 letters or digits, e.g.
# CreateWorkflow, functiongraph_06_1004); flow names (1-64 characters, functiongraph_06_1004); agency names (at most
# 64 characters, IAM's CreateAgency, iam_12_0003).
_FUNCTION_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9_-]{0,58}[A-Za-z0-9])?")
_PROJECT_ID = re.compile(r"[A-Za-z0-9]{32}")

# The SDK logs connection errors at ERROR on a logger with no handler (huaweicloudsdkcore/client.py `_init_logger`,
# exceptions/exception_handler.py `process_connection_error`), which Python's last-resort handler prints to stderr.
_SDK_LOGGER = "HuaweiCloud-SDK-FunctionGraphClient"


class Stop(NamedTuple):
    """Why the command stops, as one line that says what to do."""

    message: str


class Settings(NamedTuple):
    """The checked options."""

    name: str
    region: str
    project_id: str
    agency: str
    zip_path: Path
    endpoint: Optional[str]  # None: the region's endpoint in the SDK's region table
    flow_name: str
    max_wait: int
    dry_run: bool
    # --create-agency: the job APIs whose system policies the agency gets (empty: the agency is not touched), and
    # IAM's base URL (None: the region's in huaweicloudsdkiam's table).
    agency_services: tuple[str, ...] = ()
    iam_endpoint: Optional[str] = None


class Code(NamedTuple):
    """The ZIP to upload."""

    file_name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def elided(self) -> str:
        """What a printed request shows instead of the ZIP's base64."""
        return f"<base64 of {len(self.data):,} bytes, sha256 {self.sha256}>"


class Operation(NamedTuple):
    """One FunctionGraph v2 API as huaweicloudsdkfunctiongraph calls it: v2/functiongraph_client.py, the method and
    its `_<method>_http_info` (HTTP method, resource_path, the query parameters it knows)."""

    client_method: str
    request_model: str
    body_model: Optional[str]
    method: str
    path: str
    query: tuple[str, ...] = ()


LIST_FUNCTIONS = Operation("list_functions", "ListFunctionsRequest", None, "GET", "/v2/{project_id}/fgs/functions",
                           ("marker", "maxitems", "package_name", "func_name"))
CREATE_FUNCTION = Operation("create_function", "CreateFunctionRequest", "CreateFunctionRequestBody", "POST",
                            "/v2/{project_id}/fgs/functions")
UPDATE_FUNCTION_CODE = Operation("update_function_code", "UpdateFunctionCodeRequest", "UpdateFunctionCodeRequestBody",
                                 "PUT", "/v2/{project_id}/fgs/functions/{function_urn}/code")
UPDATE_FUNCTION_CONFIG = Operation("update_function_config", "UpdateFunctionConfigRequest",
                                   "UpdateFunctionConfigRequestBody", "PUT",
                                   "/v2/{project_id}/fgs/functions/{function_urn}/config")
LIST_WORKFLOWS = Operation("list_workflow", "ListWorkflowRequest", None, "GET", "/v2/{project_id}/fgs/workflows",
                           ("workflow_name", "limit", "offset", "enterprise_project", "mode"))
CREATE_WORKFLOW = Operation("create_workflow", "CreateWorkflowRequest", "WorkflowCreateBody", "POST",
                            "/v2/{project_id}/fgs/workflows")
UPDATE_WORKFLOW = Operation("update_work_flow", "UpdateWorkFlowRequest", "WorkflowCreateBody", "PUT",
                            "/v2/{project_id}/fgs/workflows/{workflow_id}")
OPERATIONS = (LIST_FUNCTIONS, CREATE_FUNCTION, UPDATE_FUNCTION_CODE, UPDATE_FUNCTION_CONFIG, LIST_WORKFLOWS,
              CREATE_WORKFLOW, UPDATE_WORKFLOW)


class Call(NamedTuple):
    """One request: the operation, its path and query parameters by the SDK's names, its JSON body, and what it does
    (for messages)."""

    operation: Operation
    parameters: tuple[tuple[str, Any], ...]
    body: Optional[dict[str, Any]]
    doing: str


# ---- functional core -----------------------------------------------------------------------------------------------


def target(call: Call, project_id: str) -> str:
    """`/v2/.../path?query` as the SDK sends it, path parameters shown unescaped for reading. The query goes in its
    canonical order, sorted by name: the signer rewrites the URI so (huaweicloudsdkcore signer/signer.py,
    `process_request_uri`)."""
    values = dict(call.parameters)
    path = call.operation.path.replace("{project_id}", project_id)
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    query = sorted((name, str(values[name])) for name in call.operation.query if name in values)
    return path + ("?" + urlencode(query) if query else "")


def function_environment(region: str) -> dict[str, str]:
    return {"JOBSTEP_REGION": region, **VARIABLES}


def _user_data(region: str) -> str:
    # user_data is the environment variables as one JSON object in a string: the API reference's answers show
    # "user_data": "{\"host\":\"192.168.0.1\"}" (functiongraph_06_0111), and Terraform's huaweicloud_fgs_function
    # says to build it with jsonencode().
    return json.dumps(function_environment(region), separators=(",", ":"), sort_keys=True)


def _code_fields(code: Code) -> dict[str, Any]:
    # code_type zip needs code_filename and func_code.file, the ZIP in base64 (CreateFunction, functiongraph_06_0108;
    # FuncCode.file in the SDK's v2/model/func_code.py).
    return {"code_type": "zip", "code_filename": code.file_name,
            "func_code": {"file": base64.b64encode(code.data).decode("ascii")}}


def _config_fields(settings: Settings) -> dict[str, Any]:
    return {"func_name": settings.name, "runtime": RUNTIME, "timeout": TIMEOUT, "handler": HANDLER,
            "memory_size": MEMORY_SIZE, "user_data": _user_data(settings.region), "xrole": settings.agency,
            "description": DESCRIPTION}


def list_functions(settings: Settings, marker: str) -> Call:
    # The reference does not say whether func_name matches exactly, so the answer is filtered here (pick_function).
    parameters = (("marker", marker), ("maxitems", str(FUNCTIONS_PAGE)), ("func_name", settings.name))
    return Call(LIST_FUNCTIONS, parameters, None, f"looking for the function {settings.name}")


def create_function(settings: Settings, code: Code) -> Call:
    body = {**_config_fields(settings), "package": PACKAGE, "type": FUNC_TYPE, **_code_fields(code)}
    return Call(CREATE_FUNCTION, (), body, f"creating the function {settings.name}")


def update_function_code(settings: Settings, urn: str, code: Code) -> Call:
    return Call(UPDATE_FUNCTION_CODE, (("function_urn", unqualified(urn)),), _code_fields(code),
                f"uploading the code of the function {settings.name}")


def update_function_config(settings: Settings, urn: str) -> Call:
    # PUT .../config sets the whole configuration, as Terraform's provider sends it (every field, not a patch).
    return Call(UPDATE_FUNCTION_CONFIG, (("function_urn", unqualified(urn)),), _config_fields(settings),
                f"configuring the function {settings.name}")


def list_workflows(settings: Settings, offset: int) -> Call:
    parameters = (("workflow_name", settings.flow_name), ("limit", WORKFLOWS_PAGE), ("offset", offset))
    return Call(LIST_WORKFLOWS, parameters, None, f"looking for the flow {settings.flow_name}")


def create_workflow(settings: Settings, body: dict[str, Any]) -> Call:
    return Call(CREATE_WORKFLOW, (), body, f"creating the flow {settings.flow_name}")


def update_workflow(settings: Settings, workflow_id: str, body: dict[str, Any]) -> Call:
    return Call(UPDATE_WORKFLOW, (("workflow_id", workflow_id),), body, f"updating the flow {settings.flow_name}")


def unqualified(urn: str) -> str:
    """The URN without its version: urn:fss:<region>:<project>:function:<package>:<name>[:<version>]. The API answers
    either form (UpdateFunctionCode's answer ends in ':latest', UpdateFunctionConfig's does not, functiongraph_06_0110
    and _0111); Terraform's provider sends the unversioned one in these paths (resourceFgsFunctionUrn)."""
    parts = urn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else urn


def qualified(urn: str) -> str:
    """The URN of the function's latest version, the form a flow's function operation takes (CreateWorkflow's request
    example, functiongraph_06_1004), whichever form the answer gave."""
    return unqualified(urn) + ":latest"


def flow_body(settings: Settings, function_urn: str) -> dict[str, Any]:
    """What `jobstep flow` prints for this function, with the delay policy of the function's own environment."""
    config = load_config(function_environment(settings.region), read_code_file)
    return definition(function_urn, config.policy, settings.max_wait, settings.flow_name)


def _named(items: Any, name_key: str, name: str, wanted: str) -> Optional[str]:
    """The `wanted` field of the item whose `name_key` is exactly `name` (a list filter may match more)."""
    return next((item[wanted] for item in items or [] if item.get(name_key) == name and item.get(wanted)), None)


def pick_function(answer: Mapping[str, Any], name: str) -> Optional[str]:
    """The URN of the function named exactly `name` in a ListFunctions answer."""
    return _named(answer.get("functions"), "func_name", name, "func_urn")


def next_marker(answer: Mapping[str, Any], marker: str) -> Optional[str]:
    """The marker of the next page, or None after the last ("next_marker": where the next read starts, "count": how
    many match, functiongraph_06_0105)."""
    following, count = answer.get("next_marker"), answer.get("count")
    if not answer.get("functions") or following is None or str(following) == marker:
        return None
    return None if count is not None and following >= count else str(following)


def pick_workflow(answer: Mapping[str, Any], name: str) -> Optional[str]:
    """The id of the flow named exactly `name` in a ListWorkflow answer."""
    return _named(answer.get("workflows"), "name", name, "id")


def next_offset(answer: Mapping[str, Any], offset: int) -> Optional[int]:
    """The offset of the next page, or None after the last ("total": how many match, "size": how many this page
    holds, functiongraph_06_1003)."""
    size, total = answer.get("size") or len(answer.get("workflows") or []), answer.get("total")
    following = offset + size
    return None if size == 0 or total is None or following >= total else following


def shown(body: Optional[dict[str, Any]], code: Code) -> Optional[dict[str, Any]]:
    """A body to print on a line a reader can take in: the ZIP's base64 (func_code.file) replaced by its size and
    sha256, a flow's states by how many there are (`jobstep flow` prints them)."""
    if body is None:
        return body
    if "func_code" in body:
        return {**body, "func_code": {**body["func_code"], "file": code.elided}}
    if isinstance(body.get("states"), list):
        return {**body, "states": f"<{len(body['states'])} states, as `jobstep flow` prints them>"}
    return body


def request_lines(call: Call, path: str, body: Any, indent: str) -> list[str]:
    """A request as --dry-run shows it: its method and path, and its JSON body (as shown) on the next line."""
    return [f"{indent}{call.operation.method} {path}"] + ([f"{indent}  {json.dumps(body)}"] if body is not None else [])


def plan(settings: Settings, code: Code, endpoint: str) -> list[str]:
    """What --dry-run prints: every request of both paths, since whether the function and the flow exist is known
    only by asking, and a dry run asks nothing."""
    urn, workflow_id = "{function_urn}", "{workflow_id}"
    flow = flow_body(settings, urn)

    def request(call: Call, indent: str = "  ") -> list[str]:
        return request_lines(call, target(call, settings.project_id), shown(call.body, code), indent)

    return [
        f"{PROG} --dry-run: sends nothing; to {endpoint}, it would send these requests (the ZIP's base64 shown as its"
        " size and sha256, the flow's states as their number):",
        f"the function {settings.name}, from {settings.zip_path} ({len(code.data):,} bytes, sha256 {code.sha256}):",
        *request(list_functions(settings, "0")),
        "  if there is no function of that name:",
        *request(create_function(settings, code), "    "),
        "  if there is (its URN from that answer, without the version):",
        *request(update_function_code(settings, urn, code), "    "),
        *request(update_function_config(settings, urn), "    "),
        f"the flow {settings.flow_name}, calling {urn} (the function's URN from the answers above, version latest),"
        f" waiting up to {settings.max_wait} s:",
        *request(list_workflows(settings, 0)),
        "  if there is no flow of that name:",
        *request(create_workflow(settings, flow), "    "),
        "  if there is (its id from that answer), the same body:",
        f"    {UPDATE_WORKFLOW.method} {target(update_workflow(settings, workflow_id, flow), settings.project_id)}",
    ]


def _option(args: argparse.Namespace, attribute: str, option: str, environ: Mapping[str, str],
            variable: Optional[str] = None) -> tuple[Optional[str], str]:
    """The value and the name to blame for it: the option as typed, else the variable it defaults to."""
    value = getattr(args, attribute)
    if value is not None or variable is None:
        return value, option
    return (environ.get(variable) or None), variable


def one_line(exc: Exception, limit: int = 200) -> str:
    """What an exception says, on one line, cut at a word and marked so when it is longer than `limit`."""
    words = " ".join(str(exc).split())
    return words if len(words) <= limit else words[:limit].rsplit(" ", 1)[0] + " …"


def _visible(value: str) -> bool:
    return value.isprintable() and not any(character.isspace() for character in value)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Union[Settings, Stop]:
    """The options checked, each failure naming the option as typed (or the variable it came from)."""
    name, name_option = _option(args, "name", "--name", environ)
    name = FUNCTION_NAME if name is None else name
    if not _FUNCTION_NAME.fullmatch(name):
        return Stop(f"{PROG}: {name_option} {name!r:.80} is not a function name: 1-60 letters, digits, '-' or '_',"
                       " starting with a letter and ending with a letter or digit")
    region, region_option = _option(args, "region", "--region", environ, "JOBSTEP_REGION")
    if region is None:
        return Stop(f"{PROG}: no region: pass --region (the jobs' region, e.g. ap-southeast-1)"
                       " or set JOBSTEP_REGION")
    if not valid_region(region):
        return Stop(f"{PROG}: {region_option} must look like ap-southeast-1, got {region!r:.40}")
    project_id, project_option = _option(args, "project_id", "--project-id", environ, "HUAWEICLOUD_SDK_PROJECT_ID")
    if project_id is None:
        return Stop(f"{PROG}: no project: pass --project-id (the region's project ID) or set"
                       " HUAWEICLOUD_SDK_PROJECT_ID")
    if not _PROJECT_ID.fullmatch(project_id):
        return Stop(f"{PROG}: {project_option} must be a project ID, 32 letters or digits, got {project_id!r:.40}")
    agency = args.agency
    if not agency:
        return Stop(f"{PROG}: pass --agency, the name of the agency that lets the function read the jobs"
                       " (README, Deploy, step 2): without it every call answers ERROR / credentials")
    if len(agency) > 64 or not _visible(agency):
        return Stop(f"{PROG}: --agency must be an agency's name, at most 64 characters without spaces,"
                       f" got {agency!r:.80}")
    flow_name = FLOW_NAME if args.flow_name is None else args.flow_name
    if not 0 < len(flow_name) <= 64 or not _visible(flow_name):
        return Stop(f"{PROG}: --flow-name must be 1-64 characters without spaces, got {flow_name!r:.80}")
    try:
        # The requests carry signed credentials and the code: the same check as JOBSTEP_ENDPOINT's.
        endpoint = None if args.endpoint is None else base_url(
            args.endpoint, "--endpoint", "https://functiongraph.ap-southeast-1.myhuaweicloud.com")
        config = load_config(function_environment(region), read_code_file)
    except ConfigError as exc:
        return Stop(f"{PROG}: {exc}")
    longest = longest_wait(config.policy)
    max_wait = min(config.max_wait, longest)  # as `jobstep flow` chooses
    if args.max_wait is not None:
        if not (args.max_wait.isascii() and args.max_wait.isdigit()) or not 0 < int(args.max_wait) <= longest:
            return Stop(f"{PROG}: --max-wait must be a whole number of seconds from 1 to {longest} (a flow of at"
                           f" most 100 states waits that long with the function's delay policy), got"
                           f" {args.max_wait!r:.40}")
        max_wait = int(args.max_wait)
    agency_options = _agency_options(args, environ)
    if isinstance(agency_options, Stop):
        return agency_options
    return Settings(name, region, project_id, agency, Path(args.zip), endpoint, flow_name, max_wait, args.dry_run,
                    *agency_options)


def _agency_options(args: argparse.Namespace, environ: Mapping[str, str]) -> Union[
        tuple[tuple[str, ...], Optional[str]], Stop]:
    """--create-agency's services (default JOBSTEP_SERVICE, else the default job API) and --iam-endpoint."""
    create, services, iam_endpoint = (getattr(args, "create_agency", False), getattr(args, "services", None),
                                      getattr(args, "iam_endpoint", None))
    if not create:
        given = [option for option, value in (("--services", services), ("--iam-endpoint", iam_endpoint))
                 if value is not None]
        if given:
            return Stop(f"{PROG}: {' and '.join(given)}: only --create-agency uses it (the agency it creates)")
        return (), None
    try:
        config = load_config(environ, read_code_file)  # this shell's JOBSTEP_SERVICE and JOBSTEP_SERVICES
        iam = None if iam_endpoint is None else base_url(iam_endpoint, "--iam-endpoint",
                                                          "https://iam.ap-southeast-1.myhuaweicloud.com")
    except ConfigError as exc:
        return Stop(f"{PROG}: {exc}")
    names = [name.strip() for name in (services if services is not None else config.service).split(",")]
    unknown = [name for name in names if name not in config.services]
    if unknown or not all(names):
        return Stop(f"{PROG}: --services must name job APIs, comma-separated, from {', '.join(config.services)};"
                    f" got {services!r:.80}")
    return tuple(dict.fromkeys(names)), iam


def credentials_from(environ: Mapping[str, str]) -> Union[Credentials, Stop]:
    credentials = find_credentials(None, environ)  # no context: the SDK's variables only
    if credentials is None:
        return Stop(f"{PROG}: no credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (and"
                       " HUAWEICLOUD_SDK_SECURITY_TOKEN for temporary keys), or use --dry-run to see the requests")
    problem = credentials_problem(credentials)
    return Stop(f"{PROG}: {problem.message}") if problem else credentials


class Hints(NamedTuple):
    """How a command words an API's failures for its user (`explain`, Sender)."""

    prog: str  # the command: "jobstep deploy"
    api: str  # whose answer it is: "FunctionGraph", "IAM"
    forbidden: str  # what a 403 asks for
    where: str  # the options that choose the endpoint, for a connection that fails
    rerun: str = ""  # what running the command again does, when that matters: " (it keeps what exists)"
    checks: str = "the project and "  # what a 401 asks to check besides the keys
    missing: Optional[str] = None  # what a 404 means, when it means one thing


# FunctionGraph FullAccess: a system policy (FunctionGraph's product description, functiongraph_01_0160).
FUNCTIONGRAPH = Hints(PROG, "FunctionGraph", "the IAM user needs FunctionGraph permissions in this project, e.g. the"
                      " FunctionGraph FullAccess policy", "--region or --endpoint", " (it updates what exists)")


def explain(hints: Hints, doing: str, status: int, code: str, message: str) -> str:
    """One line for an error answer: what failed, what the API said, what to do."""
    said = " ".join(str(message).split())[:300]
    if status == 401:
        hint = ("check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN with temporary"
                f" keys), {hints.checks}this machine's clock")
    elif status == 403:
        hint = hints.forbidden
    elif status == 404 and hints.missing is not None:
        hint = hints.missing
    elif status == 429 or status >= 500:
        hint = f"{hints.api} is busy or failing: run the command again in a minute{hints.rerun}"
    else:
        hint = f"fix what it says and run the command again{hints.rerun}"
    code = "" if str(code) == str(status) else f" {code}"  # IAM's /v3 errors carry the status as their code
    return f"{hints.prog}: {doing} failed: HTTP {status}{code}: {said}; {hint}"


# ---- imperative shell ----------------------------------------------------------------------------------------------


class Sdk(NamedTuple):
    """What deploy uses of huaweicloudsdkfunctiongraph and huaweicloudsdkcore."""

    models: Any
    client: Any
    region: Any
    credentials: Callable[..., Any]
    http_config: Any
    exceptions: Any
    serialize: Callable[[Any], Any]


def _import_sdk() -> Union[Sdk, Stop]:
    try:
        import huaweicloudsdkfunctiongraph.v2 as functiongraph
        import huaweicloudsdkfunctiongraph.v2.model as models
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.exceptions import exceptions
        from huaweicloudsdkcore.http.http_config import HttpConfig
        from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
        from huaweicloudsdkfunctiongraph.v2.region.functiongraph_region import FunctionGraphRegion
    except ImportError as exc:
        return Stop(f"{PROG}: needs huaweicloudsdkfunctiongraph ({exc}): install it with {INSTALL}")
    return Sdk(models, functiongraph.FunctionGraphClient, FunctionGraphRegion, BasicCredentials, HttpConfig,
                exceptions, sanitize_for_serialization)


def _model(sdk: Sdk, kind: str, data: Any) -> Any:
    """JSON data as the SDK's model of type `kind` (its openapi_types and attribute_map)."""
    if kind.startswith("list["):
        return [_model(sdk, kind[5:-1], item) for item in data]
    if kind in ("str", "int", "bool", "object") or kind.startswith("dict("):
        return data
    cls = getattr(sdk.models, kind)
    attributes = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
    return cls(**{attributes[key]: _model(sdk, cls.openapi_types[attributes[key]], value)
                  for key, value in data.items()})


def sdk_request(sdk: Sdk, call: Call) -> Any:
    """The SDK's request model for a call."""
    arguments = dict(call.parameters)
    if call.operation.body_model is not None:
        arguments["body"] = _model(sdk, call.operation.body_model, call.body)
    return getattr(sdk.models, call.operation.request_model)(**arguments)


def endpoint_of(sdk: Sdk, region: str, endpoint: Optional[str], prog: str) -> Union[str, Stop]:
    """FunctionGraph's endpoint: the one given, else the region's in huaweicloudsdkfunctiongraph."""
    if endpoint is not None:
        return endpoint
    try:
        return str(sdk.region.value_of(region).endpoints[0])
    except KeyError:
        return Stop(f"{prog}: huaweicloudsdkfunctiongraph knows no FunctionGraph endpoint for the region {region}:"
                    f" pass --endpoint https://functiongraph.{region}.myhuaweicloud.com (or the endpoint the"
                    " region's page lists)")


class Sender:
    """Sends calls with an SDK client built from `keys`; each answer comes back as a dict of the response's JSON
    fields, or a Stop whose line `explain` words with `hints`. FunctionGraph's (_Api here), IAM's (agency.py),
    start.py's."""

    def __init__(self, sdk: Sdk, keys: Any, endpoint: str, hints: Hints, logger_name: str = _SDK_LOGGER,
                 timeout: tuple[int, int] = (10, 120), region: Any = None):
        logger = logging.getLogger(logger_name)
        if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.addHandler(logging.NullHandler())
        config = sdk.http_config.get_default_config()
        config.timeout = timeout  # seconds to connect, to read: a ZIP of a few MB goes up in deploy's requests
        self.sdk, self.endpoint, self.hints = sdk, endpoint, hints
        builder = sdk.client.new_builder().with_http_config(config).with_credentials(keys)
        # With a region (the SDK's Region: id and endpoints) the builder also completes the credentials, which for
        # GlobalCredentials without an account ID asks IAM for it: SdkException when that fails.
        builder = builder.with_region(region) if region is not None else builder.with_endpoints([endpoint])
        self.client = builder.build()

    def send(self, call: Call) -> Union[dict[str, Any], Stop]:
        errors = self.sdk.exceptions
        try:
            response = getattr(self.client, call.operation.client_method)(sdk_request(self.sdk, call))
        except errors.ServiceResponseException as exc:
            return Stop(explain(self.hints, call.doing, exc.status_code, exc.error_code, exc.error_msg))
        except errors.RequestTimeoutException as exc:
            return Stop(f"{self.hints.prog}: {call.doing} timed out at {self.endpoint} ({one_line(exc)}): run the"
                        f" command again{self.hints.rerun}")
        except errors.SdkException as exc:  # connection errors, and anything else the client raises
            return Stop(f"{self.hints.prog}: {call.doing} failed: cannot reach {self.endpoint}"
                        f" ({one_line(exc)}); check the network, {self.hints.where}")
        return self.sdk.serialize(response) or {}


def project_keys(sdk: Sdk, credentials: Credentials, project_id: str) -> Any:
    """BasicCredentials for a project, with the token of temporary keys."""
    keys = sdk.credentials(credentials.ak, credentials.sk, project_id)
    return keys.with_security_token(credentials.security_token) if credentials.security_token else keys


class _Api(Sender):
    """FunctionGraph's client for deploy."""

    def __init__(self, sdk: Sdk, settings: Settings, credentials: Credentials, endpoint: str):
        super().__init__(sdk, project_keys(sdk, credentials, settings.project_id), endpoint, FUNCTIONGRAPH)


def find_in_pages(api: Sender, page: Callable[[Any], Call], pick: Callable[[Mapping[str, Any]], Optional[str]],
          following: Callable[[Mapping[str, Any], Any], Any], first: Any) -> Union[Optional[str], Stop]:
    """What `pick` finds on the first page that has it, reading page after page (at most MAX_PAGES); None when no
    page has it."""
    cursor = first
    for _ in range(MAX_PAGES):
        answer = api.send(page(cursor))
        if isinstance(answer, Stop):
            return answer
        found = pick(answer)
        if found:
            return found
        cursor = following(answer, cursor)
        if cursor is None:
            break
    return None


def _find_function(api: _Api, settings: Settings) -> Union[Optional[str], Stop]:
    return find_in_pages(api, lambda marker: list_functions(settings, marker),
                 lambda answer: pick_function(answer, settings.name), next_marker, "0")


def _find_workflow(api: _Api, settings: Settings) -> Union[Optional[str], Stop]:
    return find_in_pages(api, lambda offset: list_workflows(settings, offset),
                 lambda answer: pick_workflow(answer, settings.flow_name), next_offset, 0)


def _urn_of(answer: Mapping[str, Any], doing: str) -> Union[str, Stop]:
    urn = answer.get("func_urn")
    if not isinstance(urn, str) or not urn.startswith("urn:fss:"):
        return Stop(f"{PROG}: {doing}: the answer has no function URN (func_urn): run the command again, it"
                       " finds the function by its name")
    return urn


def _deploy_function(api: _Api, settings: Settings, code: Code, out: TextIO) -> Union[str, Stop]:
    """The function created or updated; its URN."""
    found = _find_function(api, settings)
    if isinstance(found, Stop):
        return found
    size = f"{len(code.data):,} bytes, sha256 {code.sha256[:12]}"
    if found is None:
        call = create_function(settings, code)
        answer = api.send(call)
        if isinstance(answer, Stop):
            return answer
        urn = _urn_of(answer, call.doing)
        if not isinstance(urn, Stop):
            print(f"function {settings.name}: created, {urn} (code {size}, agency {settings.agency})", file=out)
        return urn
    for call in (update_function_code(settings, found, code), update_function_config(settings, found)):
        answer = api.send(call)
        if isinstance(answer, Stop):
            return answer
    print(f"function {settings.name}: updated, {found} (code {size}, agency {settings.agency})", file=out)
    return found


def _deploy_flow(api: _Api, settings: Settings, function_urn: str, out: TextIO) -> Optional[Stop]:
    body = flow_body(settings, qualified(function_urn))
    found = _find_workflow(api, settings)
    if isinstance(found, Stop):
        return found
    call = create_workflow(settings, body) if found is None else update_workflow(settings, found, body)
    answer = api.send(call)
    if isinstance(answer, Stop):
        return answer
    done = "created" if found is None else "updated"
    print(f"flow {settings.flow_name}: {done}, id {answer.get('id') or found}, {len(body['states'])} states,"
          f" waits up to {settings.max_wait} s for {qualified(function_urn)}", file=out)
    return None


def read_code(path: Path) -> Union[Code, Stop]:
    """The ZIP `jobstep package` built, checked to hold the handler's file at its root."""
    built = "build it with `jobstep package` (or `make package`) first"
    if not path.is_file():
        return Stop(f"{PROG}: {path} does not exist: {built}, or pass --zip PATH")
    try:
        data = path.read_bytes()
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as exc:
        return Stop(f"{PROG}: {path} is not a readable ZIP ({exc}): {built}")
    entry = HANDLER.split(".")[0] + ".py"
    if entry not in names:
        return Stop(f"{PROG}: {path} has no {entry} at its root, where FunctionGraph looks for the handler"
                       f" {HANDLER}: {built}")
    return Code(path.name, data)


def _deploy(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO) -> Optional[Stop]:
    sdk = _import_sdk()
    if isinstance(sdk, Stop):
        return sdk
    settings = settings_from(args, environ)
    if isinstance(settings, Stop):
        return settings
    code = read_code(settings.zip_path)
    if isinstance(code, Stop):
        return code
    endpoint = endpoint_of(sdk, settings.region, settings.endpoint, PROG)
    if isinstance(endpoint, Stop):
        return endpoint
    from . import agency

    making = _agency_plan(settings)
    if isinstance(making, Stop):
        return making
    if settings.dry_run:
        for call in (create_function(settings, code), update_function_code(settings, "{function_urn}", code),
                     update_function_config(settings, "{function_urn}"),
                     create_workflow(settings, flow_body(settings, "{function_urn}"))):
            sdk_request(sdk, call)  # each body loads into the SDK's models, as it would before sending
        if making is not None:
            agency.load_requests(making[1], making[0])
            print("\n".join(agency.plan_lines(making[0], making[2])), file=out)
        print("\n".join(plan(settings, code, endpoint)), file=out)
        return None
    credentials = credentials_from(environ)
    if isinstance(credentials, Stop):
        return credentials
    if making is not None:
        iam = agency.api(making[1], credentials, settings.region, making[2],
                         environ.get("HUAWEICLOUD_SDK_DOMAIN_ID") or None)
        failure = iam if isinstance(iam, Stop) else agency.ensure(iam, making[0], out)
        if failure is not None:
            return failure
    api = _Api(sdk, settings, credentials, endpoint)
    urn = _deploy_function(api, settings, code, out)
    if isinstance(urn, Stop):
        return urn
    return _deploy_flow(api, settings, urn, out)


def _agency_plan(settings: Settings) -> Union[None, tuple["agency.Plan", Sdk, str], Stop]:
    """With --create-agency: what to make, IAM's SDK and endpoint; None without."""
    from . import agency

    if not settings.agency_services:
        return None
    policies = agency.policies_for(settings.agency_services)
    if isinstance(policies, Stop):
        return policies
    sdk = agency.import_sdk()
    if isinstance(sdk, Stop):
        return sdk
    endpoint = agency.endpoint_of(sdk, settings.region, settings.iam_endpoint)
    if isinstance(endpoint, Stop):
        return endpoint
    return agency.Plan(settings.agency, settings.project_id, settings.region, policies), sdk, endpoint


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The deploy command: 0 when the function and the flow are in place; 2 with one line saying what to do."""
    try:
        failure = _deploy(args, os.environ, out)
    except Exception as exc:  # a bug in deploy: still one line, never a traceback
        failure = Stop(f"{PROG}: unexpected {type(exc).__name__}: {one_line(exc)}"
                          " (a bug in jobstep deploy; please report it with the command you ran)")
    if failure is None:
        return 0
    print(failure.message, file=err)
    return 2


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """The `deploy` subcommand. Values are checked by `run`, which names the option as typed; abbreviations are off so
    that the name typed is the option's own."""
    deploy = commands.add_parser(
        "deploy", allow_abbrev=False,
        help="create or update the function from the built ZIP, then its function flow (needs the deploy extra)",
        description="Create or update the FunctionGraph function from the ZIP `jobstep package` built, with"
                    " template.yaml's settings and your agency, then the function flow `jobstep flow` describes,"
                    " pointed at the function. Run it again to update both. Credentials: HUAWEICLOUD_SDK_AK,"
                    " HUAWEICLOUD_SDK_SK (and HUAWEICLOUD_SDK_SECURITY_TOKEN).")
    deploy.add_argument("--agency", help="the agency that lets the function read the jobs (required)")
    deploy.add_argument("--region", help="the jobs' region, where the function goes (default: JOBSTEP_REGION)")
    deploy.add_argument("--project-id", help="the region's project ID (default: HUAWEICLOUD_SDK_PROJECT_ID)")
    deploy.add_argument("--name", help=f"the function's name (default: {FUNCTION_NAME})")
    deploy.add_argument("--zip", default=str(DEFAULT_OUT), help=f"the code package (default: {DEFAULT_OUT})")
    deploy.add_argument("--flow-name", help=f"the function flow's name (default: {FLOW_NAME})")
    deploy.add_argument("--max-wait", help="seconds the flow waits for a job at most (default: JOBSTEP_MAX_WAIT of"
                        " the template, 3600)")
    deploy.add_argument("--endpoint", help="FunctionGraph's base URL (default: the region's, from the SDK)")
    deploy.add_argument("--dry-run", action="store_true",
                        help="print the requests of both paths (create and update) and send nothing")
    making = deploy.add_argument_group("the agency, on request (needs IAM permissions)")
    making.add_argument("--create-agency", action="store_true",
                        help="create the --agency, delegated to FunctionGraph, if there is none of that name (one"
                             " that exists is kept), and grant it in the project the read-only system policy of"
                             " each job API of --services")
    making.add_argument("--services", help="with --create-agency: the job APIs the function queries, comma-separated,"
                        " e.g. ecs,rds (default: JOBSTEP_SERVICE, or elb)")
    making.add_argument("--iam-endpoint", help="with --create-agency: IAM's base URL (default: the region's, from"
                        " huaweicloudsdkiam)")
