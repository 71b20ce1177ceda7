"""A stand-in for FunctionGraph's v2 API over real HTTP on 127.0.0.1: the paths `jobstep deploy` calls through
huaweicloudsdkfunctiongraph, with functions and flows kept in memory.

It does what Huawei Cloud documents, and where the documents are silent it takes the reading that is hardest on
the caller:
- Every request must carry a valid SDK-HMAC-SHA256 signature (checked by jobstep_tools.sigcheck, written from the
  signing guide and independent of the SDK's signer), and the token of temporary keys; else 401 with the API
  gateway's body, as the job simulator answers.
- Bodies and queries are read strictly into the SDK's own models (v2/model/*.py: openapi_types, attribute_map):
  an unknown key, a wrong type or a missing required field is 400 FSS.0400. "Required" is what the SDK's generator
  marks so: the fields its model's __init__ assigns unconditionally (optional ones are behind `if x is not None`).
  A query parameter the request model does not have is 400 FSS.1001 ("Invalid query parameter").
- CreateFunction (functiongraph_06_0108): the name rule (FSS.1002), a handler with a '.', a runtime of the list,
  a memory size of the list (FSS.1007), code_filename and func_code.file in base64 for code_type zip; a name that
  exists is 409 FSS.0409 (the error codes, functiongraph_06_1320). user_data must be a JSON object of strings
  (the API's own answers show it so, functiongraph_06_0111).
- ListFunctions pages with marker / maxitems (at most 400, 0 or more means 400) and answers next_marker and count
  (functiongraph_06_0105); ListWorkflow pages with offset / limit (at most 200) and answers total and size
  (functiongraph_06_1003). Neither reference says whether the name filter (func_name, workflow_name) matches
  exactly: here it matches any name that contains it, so the caller must pick the exact name itself.
- Answers are shaped by the SDK's response models and checked against them; URNs come in the forms the reference's
  examples show: with ':latest' from CreateFunction and UpdateFunctionCode (functiongraph_06_0110), without a version
  from ListFunctions and UpdateFunctionConfig (functiongraph_06_0111); a path takes either form.
- CreateWorkflow answers 201 (its example, functiongraph_06_1004); a flow name that exists is 409 FSS.0409.
  ShowWorkFlow (GET .../workflows/{workflow_id}) answers the flow with its definition, as ShowWorkFlowResponse holds.
- Executions, with a `harness` (tests/helpers.py: the jobstep handler before the loopback job simulator, on a
  simulated clock): StartWorkflowExecution (POST .../workflows/{workflow_id}/executions, body FlowExecuteBody,
  answers {"execution_id"}: "Executing a Flow Asynchronously", functiongraph_06_1001) runs the flow as the engine
  does, with tests/test_flow.py's walker: its states in order from `start`, each Operation state calling the
  function its function_ref names (the URN of `functions`, which must be a function here: else the node and the
  execution fail) with its arguments, each Sleep state sleeping its duration on the harness's clock, leaving by the
  first on_errors condition that holds on the output (`$.done == true`, as flow.py writes it). The function runs
  with its agency's temporary keys, or, without an agency (xrole), with none, as FunctionGraph gives them.
  The run is worked out when it starts and shown as it stands at the stand-in's own `clock` (the caller's,
  which its sleeps move): ShowWorkflowExecution (GET .../executions/{execution_id}, "Querying a Flow Instance",
  functiongraph_06_1006) answers status running, then success (or fail), each node's executions (status success,
  fail or running; begin_time and end_time in UTC milliseconds) and the flow's output when it has ended. Where the
  reference is silent it is hard on the caller: a query node left through its on_errors condition shows status
  "fail" (the engine's error handling took it) although the flow goes on and succeeds, and nodes carry their input
  and output only when the request asks for them (X-Get-Workflow-Full-History-Data: true, "whether to obtain the
  complete flow execution output"). ListWorkflowExecutions ("Querying Instances of a Flow", functiongraph_06_1005)
  lists them, newest first.
"""

import base64
import binascii
import hashlib
import inspect
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, NamedTuple, Optional
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import huaweicloudsdkfunctiongraph.v2.model as models
from jobstep_tools import sigcheck
from jobstep_tools.local import LocalContext
from jobstep_tools.simulator import SIGNATURE_FAIL, TOKEN_FAIL, Loopback
from test_flow import matches, to_model, walk

_REQUIRED = re.compile(r"^        self\.(\w+) = \1$", re.MULTILINE)
# CreateFunction's rules (functiongraph_06_0108, and the SDK's CreateFunctionRequestBody docstring).
_FUNCTION_NAME = re.compile(r"[A-Za-z]([A-Za-z0-9_-]{0,58}[A-Za-z0-9])?")
RUNTIMES = frozenset({"Java8", "Java11", "Java17", "Python2.7", "Python3.6", "Python3.9", "Python3.10", "Python3.12",
                      "Go1.x", "Node.js14.18", "Node.js16.17", "Node.js18.15", "Node.js20.15", "C#(.NET Core 3.1)",
                      "C#(.NET Core 6.0)", "Custom", "PHP7.3", "PHP8.3", "http", "Custom Image", "Cangjie1.0"})
MEMORY_SIZES = frozenset({128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096})
USER_DATA_LIMIT = 4096  # "总长度不超过4KB"


class Invalid(Exception):
    """An error answer: HTTP status, FunctionGraph's error_code, error_msg."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> Invalid:
    return Invalid(400, "FSS.0400", f"Invalid parameter. {message}")


class Schema:
    """Strict reading into one SDK's models (`module`: its v*/model package); `bad(message)` is the error answer
    that service gives a body it cannot read."""

    def __init__(self, module: Any, bad: Callable[[str], Exception], nulls: bool = False):
        self.module, self.bad, self.nulls = module, bad, nulls  # nulls: a field may be JSON null
        self._required: dict[str, frozenset] = {}

    def required(self, kind: str) -> frozenset:
        """The JSON names of the fields the SDK's model `kind` marks required."""
        if kind not in self._required:
            cls = getattr(self.module, kind)
            attributes = set(_REQUIRED.findall(inspect.getsource(cls.__init__)))
            self._required[kind] = frozenset(cls.attribute_map[name] for name in attributes)
        return self._required[kind]

    def load(self, kind: str, data: Any, where: str = "$") -> None:
        """Refuse `data` unless it reads into the SDK's model `kind` exactly: no unknown key, every required field,
        every value of its declared type."""
        bad = self.bad
        if data is None and self.nulls:
            return
        if kind.startswith("list["):
            if not isinstance(data, list):
                raise bad(f"{where} must be an array")
            for index, item in enumerate(data):
                self.load(kind[5:-1], item, f"{where}[{index}]")
            return
        if kind.startswith("dict("):
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise bad(f"{where} must be an object of strings")
            return
        simple = {"str": str, "bool": bool, "datetime": str}
        if kind in simple:
            if not isinstance(data, simple[kind]):
                raise bad(f"{where} must be a {kind}")
            return
        if kind == "int":
            if not isinstance(data, int) or isinstance(data, bool):
                raise bad(f"{where} must be an integer")
            return
        if kind == "object":
            return
        cls = getattr(self.module, kind)
        if not isinstance(data, dict):
            raise bad(f"{where} must be an object ({kind})")
        attributes = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
        unknown = sorted(set(data) - set(attributes))
        if unknown:
            raise bad(f"{where} has unknown field(s) {', '.join(unknown)} ({kind})")
        missing = sorted(self.required(kind) - set(data))
        if missing:
            raise bad(f"{where} lacks the required field(s) {', '.join(missing)} ({kind})")
        for key, value in data.items():
            self.load(cls.openapi_types[attributes[key]], value, f"{where}.{key}")


SCHEMA = Schema(models, _bad)
required, load = SCHEMA.required, SCHEMA.load


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())  # the API's own format, e.g. "2019-10-25 15:37:27"


class Function(NamedTuple):
    name: str
    urn: str  # without a version
    settings: dict[str, Any]  # the configuration as last sent (CreateFunction, UpdateFunctionConfig)
    code: bytes
    code_filename: str
    last_modified: str

    @property
    def environment(self) -> dict[str, str]:
        return json.loads(self.settings.get("user_data") or "{}")


class Workflow(NamedTuple):
    id: str
    name: str
    body: dict[str, Any]
    created_time: str
    updated_time: str


class NodeRun(NamedTuple):
    """One node's execution: seconds from the flow's start, and what went in and came out."""

    state: dict[str, Any]
    begin: float
    end: float
    status: str  # success or fail (once it has ended)
    input: Any
    output: Any
    error: Optional[dict[str, Any]] = None


class Execution(NamedTuple):
    id: str
    workflow: Workflow
    input: Any
    began: float  # on the stand-in's clock
    nodes: tuple[NodeRun, ...]
    lasts: float  # seconds from begin to end
    status: str  # how it ends: success or fail
    output: Any


class _Recorder:
    """What tests/test_flow.py's walker drives (a harness: .clock.advance, .call), recording each call and sleep with
    its times on the harness's clock, the function's context made per call as FunctionGraph makes it."""

    def __init__(self, harness: Any, context: Callable[[], Optional[LocalContext]]):
        self.harness, self.context, self.clock, self.at = harness, context, self, 0.0
        self.events: list[tuple[float, float, Any, Any]] = []  # (begin, end, input, output); input None: a sleep

    def advance(self, seconds: float) -> None:
        self.harness.clock.advance(seconds)
        self.events.append((self.at, self.at + seconds, None, None))
        self.at += seconds

    def call(self, event: Any) -> Any:
        before = self.harness.clock()
        output = json.loads(json.dumps(self.harness.call(event, self.context())))  # the function's answer as JSON
        lasted = self.harness.clock() - before
        self.events.append((self.at, self.at + lasted, event, output))
        self.at += lasted
        return output


class Seen(NamedTuple):
    method: str
    path: str  # percent-decoded, as the SDK's caller wrote it
    query: tuple[tuple[str, str], ...]
    verdict: Optional[str]  # None when the signature checked out

    @property
    def target(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


class Fault(NamedTuple):
    """An error answer served once, instead of the normal one, to the first signed request that matches."""

    method: str
    path: re.Pattern  # over the decoded path
    status: int
    code: str
    message: str


_ROUTES = (
    ("functions", re.compile(r"/v2/(?P<project>[^/]+)/fgs/functions")),
    ("function_code", re.compile(r"/v2/(?P<project>[^/]+)/fgs/functions/(?P<urn>[^/]+)/code")),
    ("function_config", re.compile(r"/v2/(?P<project>[^/]+)/fgs/functions/(?P<urn>[^/]+)/config")),
    ("workflows", re.compile(r"/v2/(?P<project>[^/]+)/fgs/workflows")),
    ("workflow", re.compile(r"/v2/(?P<project>[^/]+)/fgs/workflows/(?P<id>[^/]+)")),
    ("executions", re.compile(r"/v2/(?P<project>[^/]+)/fgs/workflows/(?P<id>[^/]+)/executions")),
    ("execution", re.compile(r"/v2/(?P<project>[^/]+)/fgs/workflows/(?P<id>[^/]+)/executions/(?P<execution>[^/]+)")),
)
# Each (route, method): the handler, the SDK's request model for the query, the body model.
_OPERATIONS = {
    ("functions", "GET"): ("_list_functions", "ListFunctionsRequest", None),
    ("functions", "POST"): ("_create_function", "CreateFunctionRequest", "CreateFunctionRequestBody"),
    ("function_code", "PUT"): ("_update_code", "UpdateFunctionCodeRequest", "UpdateFunctionCodeRequestBody"),
    ("function_config", "PUT"): ("_update_config", "UpdateFunctionConfigRequest", "UpdateFunctionConfigRequestBody"),
    ("workflows", "GET"): ("_list_workflows", "ListWorkflowRequest", None),
    ("workflows", "POST"): ("_create_workflow", "CreateWorkflowRequest", "WorkflowCreateBody"),
    ("workflow", "PUT"): ("_update_workflow", "UpdateWorkFlowRequest", "WorkflowCreateBody"),
    ("workflow", "GET"): ("_show_workflow", "ShowWorkFlowRequest", None),
    ("executions", "POST"): ("_start_execution", "StartWorkflowExecutionRequest", "FlowExecuteBody"),
    ("executions", "GET"): ("_list_executions", "ListWorkflowExecutionsRequest", None),
    ("execution", "GET"): ("_show_execution", "ShowWorkflowExecutionRequest", None),
}
_PATH_PARAMETERS = {"function_urn", "workflow_id", "execution_id", "body"}


Query = tuple[tuple[str, str], ...]


def received(method: str, target: str, headers: Mapping[str, str], body: bytes,
             keys: sigcheck.Keys) -> tuple[str, Query, dict[str, str], Optional[str]]:
    """A request to a stand-in: its path, query, lowered headers, and what is wrong with its signature or token
    (None when nothing)."""
    parts = urlsplit(target)
    lowered = {name.lower(): value for name, value in headers.items()}
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return unquote(parts.path), query, lowered, sigcheck.check(method, target, headers, body, keys)


def json_api(answer: Callable[[str, str, dict[str, str], bytes], tuple[int, Any]], trace_header: str) -> type:
    """The HTTP handler of a stand-in JSON API (FunctionGraph's, IAM's): `answer(method, path, headers, body)` gives
    the status and the JSON (None: no body); every reply carries a request id in `trace_header`, as the API's do."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, data = answer(self.command, self.path, dict(self.headers.items()), body)
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header(trace_header, uuid.uuid4().hex)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

    return Handler


class FunctionGraphStandIn(Loopback):
    """FunctionGraph for one project of one region on 127.0.0.1. `keys` maps each access key to (secret key, token
    or None). `page_size` lowers the most a list page holds (the API's most is 400), to make paging visible."""

    def __init__(self, project_id: str, keys: dict[str, tuple[str, Optional[str]]], region: str = "ap-southeast-1",
                 page_size: int = 400, harness: Any = None, clock: Callable[[], float] = time.time):
        self.project_id, self.keys, self.region, self.page_size = project_id, dict(keys), region, page_size
        self.harness, self.clock = harness, clock  # what runs the functions of a flow; the time executions show
        self.functions: dict[str, Function] = {}  # by name
        self.workflows: dict[str, Workflow] = {}  # by id
        self.executions: dict[str, Execution] = {}  # by id
        self._headers: Mapping[str, str] = {}  # the request's, lowered, for the operation answering it
        self.seen: list[Seen] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        super().__init__(json_api(self.answer, "X-Request-Id"))

    def urn(self, name: str) -> str:
        return f"urn:fss:{self.region}:{self.project_id}:function:default:{name}"

    def add_function(self, name: str, code: bytes = b"PK\x05\x06" + bytes(18)) -> Function:
        """A function made elsewhere (the console, another tool)."""
        settings = {"func_name": name, "package": "default", "runtime": "Python3.9", "timeout": 3,
                    "handler": "index.handler", "memory_size": 128}
        function = Function(name, self.urn(name), settings, code, "code.zip", _stamp())
        self.functions[name] = function
        return function

    def add_workflow(self, name: str) -> Workflow:
        workflow = Workflow(uuid.uuid4().hex, name, {"name": name}, _stamp(), _stamp())
        self.workflows[workflow.id] = workflow
        return workflow

    def fail(self, method: str, path: str, status: int, code: str, message: str) -> None:
        self.faults.append(Fault(method, re.compile(path), status, code, message))

    # ---- the API ---------------------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        path, query, lowered, verdict = received(method, target, headers, body, self.keys)
        with self._lock:
            self.seen.append(Seen(method, path, query, verdict))
        if verdict:
            said = TOKEN_FAIL if verdict == sigcheck.INVALID_TOKEN else SIGNATURE_FAIL
            return 401, {"error_code": "APIGW.0301", "error_msg": said, "request_id": uuid.uuid4().hex}
        try:
            return self._route(method, path, query, lowered, body)
        except Invalid as problem:
            return problem.status, {"error_code": problem.code, "error_msg": problem.message,
                                    "request_id": uuid.uuid4().hex}

    def _route(self, method: str, path: str, query: tuple, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        for name, pattern in _ROUTES:
            match = pattern.fullmatch(path)
            if match and (name, method) in _OPERATIONS:
                break
        else:
            raise Invalid(404, "APIG.0101", "The API does not exist or has not been published")
        if match["project"] != self.project_id or headers.get("x-project-id", self.project_id) != self.project_id:
            raise Invalid(403, "APIGW.0302", "The IAM user is not authorized to access the project")
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path.search(path):
                    self.faults.remove(fault)
                    raise Invalid(fault.status, fault.code, fault.message)
        handler, request_model, body_model = _OPERATIONS[(name, method)]
        accepted = set(getattr(models, request_model).attribute_map.values()) - _PATH_PARAMETERS
        unknown = sorted({key for key, _ in query} - accepted)
        if unknown:
            raise Invalid(400, "FSS.1001", f"Invalid query parameter. {', '.join(unknown)}")
        data = None
        if body_model is not None:
            if not headers.get("content-type", "").startswith("application/json"):
                raise Invalid(406, "FSS.0406", "Not acceptable. The body must be application/json")
            try:
                data = json.loads(body)
            except ValueError:
                raise Invalid(406, "FSS.0406", "Not acceptable. The body is not JSON") from None
            load(body_model, data)
        with self._lock:
            self._headers = headers
            return getattr(self, handler)(match.groupdict(), dict(query), data)

    def _function(self, urn: str) -> Function:
        for function in self.functions.values():
            if urn in (function.urn, function.urn + ":latest"):
                return function
        raise Invalid(404, "FSS.0404", "The specified resource was not found.")

    def _view(self, function: Function, kind: str, versioned: bool) -> dict[str, Any]:
        settings = function.settings
        view = {
            "func_urn": function.urn + (":latest" if versioned else ""), "func_name": function.name,
            "domain_id": "0" * 32, "namespace": self.project_id, "project_name": self.region,
            "package": settings["package"], "runtime": settings["runtime"], "timeout": settings["timeout"],
            "handler": settings["handler"], "memory_size": settings["memory_size"],
            "cpu": settings["memory_size"] // 128 * 100 + 200,  # "内存/128 * 100 + 200" (functiongraph_06_0105)
            "code_type": "zip", "code_filename": function.code_filename, "code_size": len(function.code),
            "digest": hashlib.sha512(function.code).hexdigest(),  # the code's SHA-512 (functiongraph_06_0107)
            "version": "latest", "image_name": "latest-" + function.last_modified.replace(" ", "-"),
            "user_data": settings.get("user_data", ""), "xrole": settings.get("xrole", ""),
            "description": settings.get("description", ""), "last_modified": function.last_modified,
        }
        names = set(getattr(models, kind).attribute_map.values())
        view = {key: value for key, value in view.items() if key in names}
        load(kind, view)  # the answer is the SDK's response model, exactly
        return view

    @staticmethod
    def _code(data: dict[str, Any]) -> bytes:
        if data["code_type"] != "zip":
            raise _bad("code_type: only zip in this stand-in")
        if not data.get("code_filename"):
            raise _bad("code_filename is required when code_type is zip")
        file = (data.get("func_code") or {}).get("file")
        if not file:
            raise _bad("func_code.file is required when code_type is zip")
        try:
            return base64.b64decode(file, validate=True)
        except (binascii.Error, ValueError):
            raise _bad("func_code.file must be base64") from None

    @staticmethod
    def _settings(data: dict[str, Any]) -> None:
        if not _FUNCTION_NAME.fullmatch(data["func_name"]):
            raise Invalid(400, "FSS.1002", "Invalid function name.")
        if "." not in data["handler"]:
            raise Invalid(400, "FSS.1003", "Invalid function handler.")
        if data["runtime"] not in RUNTIMES:
            raise Invalid(400, "FSS.1005", "Invalid runtime.")
        if data["memory_size"] not in MEMORY_SIZES:
            raise Invalid(400, "FSS.1007", "Invalid function memory.")
        if not 3 <= data["timeout"] <= 259200:
            raise _bad("timeout must be 3-259200 s")
        user_data = data.get("user_data")
        if user_data is not None:
            try:
                variables = json.loads(user_data)
            except ValueError:
                variables = None
            if (not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values())
                    or len(user_data) > USER_DATA_LIMIT):
                raise _bad("user_data must be a JSON object of strings, at most 4096 characters")

    def _list_functions(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        marker, maxitems = query.get("marker", "0"), query.get("maxitems", "0")
        if not marker.isdigit() or not maxitems.lstrip("-").isdigit() or int(maxitems) < 0:
            raise Invalid(400, "FSS.1001", "Invalid query parameter.")
        wanted = int(maxitems) if 0 < int(maxitems) <= 400 else 400
        matching = [function for function in self.functions.values()
                    if query.get("func_name", "") in function.name
                    and query.get("package_name", function.settings["package"]) == function.settings["package"]]
        start = int(marker)
        page = matching[start:start + min(wanted, self.page_size)]
        answer = {"functions": [self._view(function, "ListFunctionResult", False) for function in page],
                  "next_marker": start + len(page), "count": len(matching)}
        load("ListFunctionsResponse", answer)
        return 200, answer

    def _create_function(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        self._settings(data)
        code = self._code(data)
        if data["func_name"] in self.functions:
            raise Invalid(409, "FSS.0409", "The specified resource already exists.")
        settings = {key: value for key, value in data.items()
                    if key not in ("code_type", "code_filename", "func_code")}
        function = Function(data["func_name"], self.urn(data["func_name"]), settings, code, data["code_filename"],
                            _stamp())
        self.functions[function.name] = function
        return 200, self._view(function, "CreateFunctionResponse", True)

    def _update_code(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        function = self._function(path["urn"])
        code = self._code(data)
        function = function._replace(code=code, code_filename=data["code_filename"], last_modified=_stamp())
        self.functions[function.name] = function
        return 200, self._view(function, "UpdateFunctionCodeResponse", True)

    def _update_config(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        function = self._function(path["urn"])
        self._settings(data)
        if data["func_name"] != function.name:
            raise _bad("func_name is the function's name; a function cannot be renamed")
        function = function._replace(settings={"package": function.settings["package"], **data},
                                     last_modified=_stamp())
        self.functions[function.name] = function
        return 200, self._view(function, "UpdateFunctionConfigResponse", False)

    def _workflow_view(self, workflow: Workflow, kind: str) -> dict[str, Any]:
        view = {"id": workflow.id, "name": workflow.name, "description": workflow.body.get("description", ""),
                "workflow_urn": f"urn:fss:{self.region}:{self.project_id}:workflow:default:{workflow.name}:latest",
                "created_time": workflow.created_time, "updated_time": workflow.updated_time, "created_by": "deployer",
                "enable_stream_response": False}
        load(kind, view)
        return view

    @staticmethod
    def _check_flow(data: dict) -> None:
        # Limits of CreateWorkflow's body (functiongraph_06_1004): name 1-64, 1-100 states; and a graph that holds.
        if not 0 < len(data["name"]) <= 64:
            raise _bad("name must be 1-64 characters")
        ids = [state["id"] for state in data["states"]]
        if not 0 < len(ids) <= 100 or len(set(ids)) != len(ids) or data["start"] not in ids:
            raise _bad("states: 1-100 states with distinct ids, start among them")
        functions = {function["name"] for function in data["functions"]}
        for state in data["states"]:
            targets = [state["transition"]] + [on_error.get("transition") for on_error in state.get("on_errors") or []]
            if any(target and target not in ids for target in targets):
                raise _bad(f"state {state['id']} goes to a state that does not exist")
            if any(action["function_ref"]["ref_name"] not in functions for action in state["actions"]
                   if action.get("function_ref")):
                raise _bad(f"state {state['id']} calls a function the flow does not list")

    def _time(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # "yyyy-MM-ddTHH:mm:ssZ，UTC时间"

    def _list_workflows(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        try:
            limit, offset = int(query.get("limit", "200")), max(int(query.get("offset", "0")), 0)
        except ValueError:
            raise Invalid(400, "FSS.1001", "Invalid query parameter.") from None
        limit = min(max(limit, 1), 200, self.page_size)
        matching = [workflow for workflow in self.workflows.values()
                    if query.get("workflow_name", "") in workflow.name]
        page = matching[offset:offset + limit]
        answer = {"total": len(matching), "size": len(page),
                  "workflows": [self._workflow_view(workflow, "WorkflowSimpleInfo") for workflow in page]}
        load("ListWorkflowResponse", answer)
        return 200, answer

    def _create_workflow(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        self._check_flow(data)
        if any(workflow.name == data["name"] for workflow in self.workflows.values()):
            raise Invalid(409, "FSS.0409", "The specified resource already exists.")
        workflow = Workflow(uuid.uuid4().hex, data["name"], data, self._time(), self._time())
        self.workflows[workflow.id] = workflow
        return 201, self._workflow_view(workflow, "CreateWorkflowResponse")

    def _update_workflow(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        workflow = self.workflows.get(path["id"])
        if workflow is None:
            raise Invalid(404, "FSS.0404", "The specified resource was not found.")
        self._check_flow(data)
        if any(other.name == data["name"] and other.id != workflow.id for other in self.workflows.values()):
            raise Invalid(409, "FSS.0409", "The specified resource already exists.")
        workflow = workflow._replace(name=data["name"], body=data, updated_time=self._time())
        self.workflows[workflow.id] = workflow
        return 200, self._workflow_view(workflow, "UpdateWorkFlowResponse")

    def _workflow(self, workflow_id: str) -> Workflow:
        workflow = self.workflows.get(workflow_id)
        if workflow is None:
            raise Invalid(404, "FSS.0404", "The specified resource was not found.")
        return workflow

    def _show_workflow(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        workflow = self._workflow(path["id"])
        view = {key: value for key, value in self._workflow_view(workflow, "CreateWorkflowResponse").items()
                if key in ("id", "workflow_urn", "created_time", "updated_time", "created_by")}
        view["definition"] = workflow.body
        load("ShowWorkFlowResponse", view)
        return 200, view

    def _context(self, function: Function) -> Callable[[], Optional[LocalContext]]:
        """The function's context per call: its agency's temporary keys (the harness's default), or none."""
        if function.settings.get("xrole"):
            return lambda: None
        return lambda: LocalContext(clock=self.harness.clock)

    def _start_execution(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        workflow = self._workflow(path["id"])
        if self.harness is None:
            raise Invalid(500, "FSS.0500", "This stand-in runs flows only with a harness")
        if not isinstance(data["input"], dict):
            raise _bad("input must be a JSON object")
        body = to_model("WorkflowCreateBody", workflow.body)
        by_urn = {urn: function for function in self.functions.values()
                  for urn in (function.urn, function.urn + ":latest")}
        missing = [function.operation for function in body.functions if function.operation not in by_urn]
        began = self.clock()
        execution_id = uuid.uuid4().hex
        if missing:  # the first node cannot call its function
            start = next(state for state in workflow.body["states"] if state["id"] == body.start)
            error = {"error_code": "FSS.0404", "error_msg": f"function {missing[0]} not found"}
            node = NodeRun(start, 0.0, 0.0, "fail", data["input"], None, error)
            execution = Execution(execution_id, workflow, data["input"], began, (node,), 0.0, "fail", None)
        else:
            (name,) = {by_urn[function.operation].name for function in body.functions}  # flow.py's flows call one
            recorder = _Recorder(self.harness, self._context(self.functions[name]))
            path_taken, output = walk(body, data["input"], recorder)
            states = {state["id"]: state for state in workflow.body["states"]}
            nodes = []
            for state_id, (begin, end, given, out) in zip(path_taken, recorder.events):
                state = states[state_id]
                handled = any(matches(on_error["error"], out) for on_error in state.get("on_errors") or [])
                nodes.append(NodeRun(state, begin, end, "fail" if handled else "success", given, out))
            nodes.append(NodeRun(states[path_taken[-1]], recorder.at, recorder.at, "success", output, output))
            execution = Execution(execution_id, workflow, data["input"], began, tuple(nodes), recorder.at, "success",
                                  output)
        self.executions[execution_id] = execution
        answer = {"execution_id": execution_id}
        load("StartWorkflowExecutionResponse", answer)
        return 200, answer

    @staticmethod
    def _utc(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))

    def _brief(self, execution: Execution, now: float) -> dict[str, Any]:
        ended = now - execution.began >= execution.lasts
        return {"workflow_id": execution.workflow.id, "execution_id": execution.id,
                "workflow_urn": f"urn:fss:{self.region}:{self.project_id}:workflow:default:{execution.workflow.name}"
                                ":latest",
                "status": execution.status if ended else "running", "begin_time": self._utc(execution.began),
                "end_time": self._utc(execution.began + execution.lasts) if ended else "",
                "last_update_time": self._utc(min(now, execution.began + execution.lasts)), "created_by": "deployer"}

    def _show_execution(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        workflow = self._workflow(path["id"])
        execution = self.executions.get(path["execution"])
        if execution is None or execution.workflow.id != workflow.id:
            raise Invalid(404, "FSS.0404", "The specified resource was not found.")
        now = self.clock()
        elapsed = now - execution.began
        full = self._headers.get("x-get-workflow-full-history-data", "").lower() == "true"
        details = []
        for number, node in enumerate(run for run in execution.nodes if run.begin <= elapsed):
            done = node.end <= elapsed
            record: dict[str, Any] = {"status": node.status if done else "running",
                                      "begin_time": int((execution.began + node.begin) * 1000),
                                      "request_id": uuid.uuid5(uuid.NAMESPACE_URL, f"{execution.id}/{number}").hex}
            if done:
                record["end_time"] = int((execution.began + node.end) * 1000)
                if node.error is not None:
                    record["error_message"] = node.error
            if full:
                record["input"] = node.input
                if done:
                    record["output"] = node.output
            details.append({"node_id": node.state["id"], "node_name": node.state["name"],
                            "execution_id": f"{execution.id}-{number}", "executions": [record]})
        answer = {**self._brief(execution, now), "input": execution.input, "node_execution_details": details}
        if elapsed >= execution.lasts and execution.output is not None:
            answer["output"] = execution.output
        load("ShowWorkflowExecutionResponse", answer)
        return 200, answer

    def _list_executions(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        workflow = self._workflow(path["id"])
        now = self.clock()
        listed = [self._brief(execution, now) for execution in self.executions.values()
                  if execution.workflow.id == workflow.id]
        wanted = query.get("status")
        answer = {"executions": [brief for brief in reversed(listed) if wanted in (None, brief["status"])]}
        load("ListWorkflowExecutionsResponse", answer)
        return 200, answer
