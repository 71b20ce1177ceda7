"""An embedded simulator of the job API on loopback, checking signatures the way the API gateway does.

Jobs follow a timeline on an injectable clock (INIT, then RUNNING, then their outcome); faults can be
queued to be served before the normal answers. It backs `jobstep demo`, the tests and the benchmarks.
"""

import json
import math
import re
import socket
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, TypeVar, Union
from urllib.parse import parse_qsl

from jobstep.services import SERVICES, JobApi

from . import sigcheck

SKEW_LIMIT_SECONDS = 15 * 60
# API Gateway's words (APIGW.0301) for a request it cannot authenticate; FunctionGraph's stand-in says them too.
SIGNATURE_FAIL = "Incorrect IAM authentication information: verify aksk signature fail"
TOKEN_FAIL = "Incorrect IAM authentication information: invalid token"
_SIGNATURE_EXPIRED = "Incorrect IAM authentication information: calc ak sk signature fail:signature expired"
_NO_API = ("APIGW.0101", "The API does not exist or has not been published")


def _put(tree: Any, path: tuple[str, ...], value: Any) -> Any:
    """`tree` with `value` placed at a registry entry's field path (a digit is a list index)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head.isdigit():
        items = list(tree) if isinstance(tree, list) else []
        items.extend([{}] * (int(head) + 1 - len(items)))
        items[int(head)] = _put(items[int(head)], rest, value)
        return items
    shaped = dict(tree) if isinstance(tree, dict) else {}
    shaped[head] = _put(shaped.get(head), rest, value)
    return shaped


@dataclass
class SimJob:
    """A job on a timeline (its first status, its running status, then its outcome), answered in its service's
    shape: rendered from the registry entry, or, with `answers`, the bodies given for each phase (the service
    tests build them from the official SDK's response models)."""

    job_id: str
    created_at: float
    init_seconds: float = 1.0
    run_seconds: float = 3.0
    outcome: str = "SUCCESS"
    visible_after: float = 0.0  # a new job_id may answer 404 for a moment
    service: str = "elb"
    statuses: tuple[str, str] = ("INIT", "RUNNING")
    job_type: str = "deleteELB"
    error_code: Optional[str] = None
    fail_reason: Optional[str] = None
    entities: Optional[dict[str, Any]] = field(default_factory=lambda: {"elb_id": "ea3e5715b68850a747ec41f335625c08"})
    sub_jobs: Optional[list[dict[str, Any]]] = None  # in the service's own shape
    answers: Optional[dict[str, Any]] = None  # "INIT", "RUNNING", "ENDED" -> the answer's JSON
    # Fields that change as the job runs: seconds since it was created -> normalised field values in the service's
    # own form (e.g. {"progress": "37%"}, or {"sub_jobs": [...], "sub_jobs_total": 5}), placed at its entry's paths.
    script: Optional[Callable[[float], dict[str, Any]]] = None

    def phase(self, now: float) -> Optional[str]:
        age = now - self.created_at
        if age < self.visible_after:
            return None
        if age < self.init_seconds:
            return "INIT"
        return "RUNNING" if age < self.init_seconds + self.run_seconds else "ENDED"

    def status(self, now: float) -> Optional[str]:
        phase = self.phase(now)
        return {"INIT": self.statuses[0], "RUNNING": self.statuses[1], "ENDED": self.outcome}.get(phase or "")

    def body(self, now: float, api: JobApi) -> Any:
        phase = self.phase(now)
        if self.answers is not None:
            return self.answers[phase or ""]
        ended = phase == "ENDED"
        values = {
            "status": self.status(now),
            "job_id": self.job_id,
            "job_type": self.job_type,
            "begin_time": _iso(self.created_at),
            "end_time": _iso(self.created_at + self.init_seconds + self.run_seconds) if ended else "",
            "error_code": self.error_code if ended else None,
            "fail_reason": self.fail_reason if ended else None,
            "entities": self.entities,
            "sub_jobs": self.sub_jobs,
            **(self.script(now - self.created_at) if self.script else {}),
        }
        job: Any = {}
        for name, path in sorted(api.fields, key=lambda mapped: mapped[0] != "entities"):  # entities first
            if name in values and (values[name] is not None or name in ("error_code", "fail_reason")):
                job = _put(job, path, values[name])
        return _put({"request_id": "0" * 32} if api.job else {}, api.job, job)


def _word(words: tuple[str, ...], wanted: tuple[str, ...], otherwise: str) -> str:
    return next((word for word in words if word.upper() in wanted), otherwise)


def steady_job(service: str, api: JobApi, seconds: float, outcome: str, progress: bool = True,
               sub_jobs: int = 4) -> dict[str, Any]:
    """The timeline of a job that runs `seconds` and ends with `outcome` (SUCCESS or FAIL), said in its service's
    own words (its registry entry's), and that reports `progress` wherever its service does: a percent rising
    evenly and sub-jobs ending one by one. `jobstep poll --simulate` and `invoke --simulate` serve it."""
    running = api.running
    ended = (api.success if outcome == "SUCCESS" else api.failure)[0]
    done = api.success[0]
    busy = _word(running, ("RUNNING",), running[0])
    init_seconds = min(1.0, seconds / 5)

    def fields(elapsed: float) -> dict[str, Any]:
        # Under 100 % while it runs, 100 % once it has ended.
        share = 1.0 if elapsed >= seconds else min(0.99, max(0.0, (elapsed - init_seconds) / (seconds - init_seconds)))
        listed = [{"job_id": f"sub-{number}", "job_type": "step",
                   "status": done if elapsed >= init_seconds + (number + 1) * (seconds - init_seconds) / sub_jobs
                   else busy} for number in range(sub_jobs)]
        shaped = []
        for sub in listed:
            tree: Any = {}
            for name, path in api.sub_job:
                if name in sub:
                    tree = _put(tree, path, sub[name])
            shaped.append(tree)
        percent = math.floor(100 * share)
        return {"progress": percent / 100 if api.progress_scale == "fraction" else f"{percent}%",
                "sub_jobs": shaped, "sub_jobs_total": sub_jobs}

    failed = outcome == "FAIL"
    return {"service": service, "init_seconds": init_seconds, "run_seconds": seconds - init_seconds,
            "statuses": (_word(running, ("INIT", "INITIALIZING", "WAITING"), busy), busy), "outcome": ended,
            "job_type": "simulated", "error_code": "SIM.0001" if failed else None,
            "fail_reason": "a simulated failure" if failed else None,
            "entities": {}, "script": fields if progress else None}


@dataclass(frozen=True)
class Fault:
    """One answer served instead of the normal one: a status and body (or a body made from the request's
    headers, to echo them), late, a connection closed before answering (drop), or reset after the headers
    and `cut_after` bytes of the body."""

    status: int = 500
    body: Union[bytes, Callable[[dict[str, str]], bytes]] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    cut_after: Optional[int] = None


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    verdict: Optional[str]  # None when the signature checked out, else why it did not


def _pattern(api: JobApi) -> "re.Pattern[str]":
    return re.compile(re.escape(api.path).replace(r"\{project_id\}", "(?P<project>[^/]+)")
                      .replace(r"\{job_id\}", "(?P<job>[^/]+)"))


def _locate(services: Mapping[str, JobApi], target: str) -> Optional[tuple[str, str]]:
    """(project, job id) of a request to any registered job API: from its path, or its query (RDS's ?id=)."""
    path, _, query = target.partition("?")
    parameters = dict(parse_qsl(query))
    for api in services.values():
        match = _pattern(api).fullmatch(path)
        if not match:
            continue
        found = match.groupdict()
        for name, value in api.query:
            if value == "{job_id}":
                found["job"] = parameters.get(name)
        if found.get("project") and found.get("job"):
            return found["project"], found["job"]
    return None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _gateway_error(code: str, message: str) -> bytes:
    return json.dumps({"error_msg": message, "error_code": code, "request_id": "0" * 32}).encode()


Served = TypeVar("Served", bound="Loopback")


class Loopback:
    """An HTTP server on 127.0.0.1 at a free port, answering with `handler` on a daemon thread inside a `with`
    block: the job API's simulator here, and the tests' stand-ins of API Gateway and FunctionGraph."""

    def __init__(self, handler: type):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self: Served) -> Served:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class JobSimulator(Loopback):
    """The job API of one project on 127.0.0.1. `keys` maps each access key to (secret key, token or None).

    It answers every job API of `services` at its own path; a job is found only at its own service's path.
    With `tls` (a server-side SSLContext) it answers HTTPS as `localhost`, for a certificate of that name."""

    def __init__(
        self,
        project_id: str,
        keys: Mapping[str, tuple[str, Optional[str]]],
        clock: Callable[[], float] = time.time,
        tls: Optional[ssl.SSLContext] = None,
        services: Mapping[str, JobApi] = SERVICES,
    ):
        self.project_id = project_id
        self.tls = tls
        self.keys = dict(keys)
        self.clock = clock
        self.services = services
        self.jobs: dict[str, SimJob] = {}
        self.faults: deque[Fault] = deque()
        self.seen: list[Seen] = []
        self.connections = 0  # TCP connections accepted: shows keep-alive reuse
        self._lock = threading.Lock()
        super().__init__(self._handler_class())

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}" if self.tls else f"http://127.0.0.1:{self.port}"

    def add_job(self, job_id: str, **timeline: Any) -> SimJob:
        job = SimJob(job_id=job_id, created_at=timeline.pop("created_at", self.clock()), **timeline)
        self.jobs[job_id] = job
        return job

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """What the gateway and the job API answer to a request (after any queued fault)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        problem = sigcheck.check(method, target, headers, b"", self.keys)
        self.seen.append(Seen(method, target, dict(headers), problem))
        sdk_date = lowered.get("x-sdk-date", "")
        try:
            signed_at = datetime.strptime(sdk_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            signed_at = None
        if signed_at is not None and abs(self.clock() - signed_at) > SKEW_LIMIT_SECONDS:
            return 401, {}, _gateway_error("APIGW.0301", _SIGNATURE_EXPIRED)
        if signed_at is None or problem not in (None, sigcheck.INVALID_TOKEN):
            return 401, {}, _gateway_error("APIGW.0301", SIGNATURE_FAIL)
        if problem:
            return 401, {}, _gateway_error("APIGW.0301", TOKEN_FAIL)
        located = _locate(self.services, target)
        if method != "GET" or not located:
            return 404, {}, _gateway_error(*_NO_API)
        project, job_id = located
        if project != self.project_id or lowered.get("x-project-id", project) != self.project_id:
            return 403, {}, _gateway_error("APIGW.0302", "The IAM user is not authorized to access the project")
        job = self.jobs.get(job_id)
        api = self.services[job.service] if job else None
        if api is not None and target != api.url("", project, job_id):  # the job's own API, not another service's
            return 404, {}, _gateway_error(*_NO_API)
        now = self.clock()
        if job is None or api is None or job.phase(now) is None:
            body = {"error": {"code": "JOB.0404", "message": f"job {job_id} does not exist"}}
            return 404, {}, json.dumps(body).encode()
        return 200, {}, json.dumps(job.body(now, api)).encode()

    def _handler_class(self) -> type:
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real gateway does
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

            def log_message(self, *args: Any) -> None:
                pass

            handshake_failed = False

            def setup(self) -> None:
                with simulator._lock:
                    simulator.connections += 1
                if simulator.tls:
                    try:
                        self.request = simulator.tls.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):  # the client refused the certificate
                        self.handshake_failed = True
                super().setup()

            def handle(self) -> None:
                if not self.handshake_failed:
                    super().handle()

            def do_GET(self) -> None:
                headers = dict(self.headers.items())
                with simulator._lock:
                    fault = simulator.faults.popleft() if simulator.faults else None
                if fault is None:
                    status, extra, body = simulator.answer(self.command, self.path, headers)
                else:
                    simulator.seen.append(Seen(self.command, self.path, headers, "fault"))
                    time.sleep(fault.delay)
                    if fault.drop:
                        self.close_connection = True
                        return
                    status, extra = fault.status, fault.headers
                    body = fault.body(headers) if callable(fault.body) else fault.body
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault is not None and fault.cut_after is not None:
                    self.wfile.write(body[:fault.cut_after])
                    self.wfile.flush()
                    # Linger 0: closing sends a TCP reset, as a crashed upstream does.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on a huge or slow answer
                    self.close_connection = True

        return Handler
