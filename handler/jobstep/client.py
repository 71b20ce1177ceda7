"""The job API client: one signed GET of the job, its answer as a Job or a Failure. Never raises."""

import http.client
import io
import json
import socket
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

import requests
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from . import errors
from .config import Target
from .credentials import Credentials
from .model import MAX_WAIT_LIMIT, Failure, FailureKind, Reply
from .redact import Secrets
from .services import JobApi

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_BODY = 1024 * 1024  # a job answer is a few hundred bytes; more is not the job API
CONNECT_TIMEOUT = 2.0  # a regional endpoint connects in milliseconds


class _Caller(threading.local):
    """What a thread that runs a request in its caller's place knows of it: the call's deadline (time.monotonic()),
    None on every other thread (a worker's requests keep requests' own timeouts); the read timeout the request gave
    requests; and whether a read ran out of the deadline."""

    deadline: Optional[float] = None
    read_timeout = 0.0
    deadline_passed = False


_CALLER = _Caller()


class _NeedsConnection(Exception):
    """A request in the caller's thread needs a new connection: nothing was sent, and a worker sends it.

    Derived from neither OSError nor an HTTP error, so that neither urllib3's connection pool nor requests' adapter
    reads it as a failed connection: it leaves `session.get` as it is (urllib3 connectionpool.py,
    HTTPConnectionPool.urlopen, catches only TimeoutError, HTTPException, OSError, ProtocolError and TLS errors, and
    closes the connection in its `finally`; requests adapters.py, HTTPAdapter.send, only ProtocolError, OSError and
    urllib3's errors)."""


class _DeadlineReads(io.RawIOBase):
    """A response's socket reads, each bounded by what is left of the call: before every read the socket's timeout
    becomes the time to the deadline (or the read timeout given to requests, if shorter, as on a worker), and past
    the deadline the read fails as a socket timeout.

    http.client reads the status line and each header line with `fp.readline` and the body with `fp.read`, where
    `fp` is `sock.makefile("rb")`, a BufferedReader over a SocketIO whose `readinto` is one `sock.recv_into` bounded
    by the socket's timeout (CPython Lib/http/client.py, HTTPResponse.__init__, _read_status, parse_headers,
    _safe_read; Lib/socket.py, socket.makefile, SocketIO.readinto). urllib3 sets that timeout once per request (its
    read timeout; urllib3 connection.py, HTTPConnection.getresponse), so a server that sends a byte per timeout could
    keep the request for hours; here every `recv_into` gets only the rest of the deadline, so however the server
    trickles its headers or body, the last read ends by the deadline. On a TLS socket one `recv_into` is bounded as a
    whole by the timeout too (CPython Modules/_ssl.c, _ssl__SSLSocket_read_impl, waits with a deadline)."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float, read_timeout: float):
        super().__init__()
        self._raw, self._sock, self._deadline, self._read_timeout = raw, sock, deadline, read_timeout

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def readinto(self, buffer: "WriteableBuffer") -> Optional[int]:
        left = self._deadline - time.monotonic()
        try:
            if left <= 0:  # settimeout would refuse a negative time, and read 0 as "do not wait"
                raise socket.timeout("the call's deadline has passed")
            self._sock.settimeout(min(left, self._read_timeout))
            return self._raw.readinto(buffer)
        except socket.timeout:
            # urllib3 reads a socket timeout as a ReadTimeoutError (connectionpool.py,
            # HTTPConnectionPool._raise_timeout; response.py, HTTPResponse._error_catcher), which requests raises as a
            # ReadTimeout for the headers but as a ConnectionError for the body (models.py, Response.iter_content).
            # When the deadline ended it, the call answers as a worker's caller does when it stops waiting.
            _CALLER.deadline_passed = left <= self._read_timeout
            raise

    def close(self) -> None:
        if not self.closed:
            self._raw.close()  # the SocketIO: its socket stays open for the connection (socket.py, SocketIO.close)
        super().close()


class _Response(http.client.HTTPResponse):
    """http.client's response, with reads bounded by the call's deadline when the caller's thread runs it.

    http.client builds its response as `self.response_class(self.sock, ...)` (Lib/http/client.py,
    HTTPConnection.getresponse), and urllib3 gets its response from there ("an instance of HTTPResponse or of
    whatever object is returned by the response_class variable", urllib3 connection.py, HTTPConnection.getresponse).
    The file http.client made of the socket is taken apart before anything is read from it (io's
    BufferedIOBase.detach: the raw SocketIO, not closed) and read again through _DeadlineReads."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: Optional[str] = None,
                 url: Optional[str] = None):
        super().__init__(sock, debuglevel, method, url)
        deadline = _CALLER.deadline
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReads(self.fp.detach(), sock, deadline, _CALLER.read_timeout))


def _refuse_in_caller() -> None:
    """A connection is opened only through HTTPConnection.connect() ("called automatically when making a request if
    the client does not already have a connection", Python's http.client documentation; urllib3 calls it from
    HTTPSConnectionPool._validate_conn for HTTPS, and http.client from HTTPConnection.send for HTTP): the DNS
    lookup, the TCP connect and the TLS handshake, which no socket timeout bounds as a whole (DNS not at all). In
    the caller's thread it is refused, before any of them: the request goes to a worker."""
    if _CALLER.deadline is not None:
        raise _NeedsConnection()


class _Connection(HTTPConnection):
    response_class = _Response

    def connect(self) -> None:
        _refuse_in_caller()
        super().connect()


class _TLSConnection(HTTPSConnection):
    response_class = _Response

    def connect(self) -> None:
        _refuse_in_caller()
        super().connect()


class _ConnectionPool(HTTPConnectionPool):
    ConnectionCls = _Connection  # what the pool makes its connections of (urllib3 connectionpool.py, _new_conn)


class _TLSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _Adapter(HTTPAdapter):
    """requests' adapter, whose connections are _Connection and _TLSConnection: init_poolmanager is the documented
    way to set up an adapter's PoolManager (requests' advanced guide, Transport Adapters), and a PoolManager makes
    its pools from its own `pool_classes_by_scheme` ("so other PoolManagers can override them", urllib3
    poolmanager.py, PoolManager.__init__ and _new_pool)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _ConnectionPool, "https": _TLSConnectionPool}


def new_session() -> requests.Session:
    """A session for warm reuse; urllib3 retries a failed connection once, never a request sent.

    Read errors are raised as they are (read=False), so a timeout stays a timeout; Retry-After is the
    policy's to honour, not urllib3's. The environment is not trusted: a proxy variable would send the
    signed request elsewhere, a CA-bundle variable would widen or (empty, in older requests) disable TLS
    verification, and a .netrc would replace the signature.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = True
    retry = Retry(total=1, connect=1, read=False, status=0, other=0, redirect=0, respect_retry_after_header=False)
    adapter = _Adapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def signed_headers(url: str, credentials: Credentials, project_id: str, now: datetime) -> dict[str, str]:
    """The headers of a GET of `url`, signed with huaweicloudsdkcore's SDK-HMAC-SHA256 signer."""
    parts = urlsplit(url)
    headers = {
        "X-Sdk-Date": now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "X-Project-Id": project_id,
    }
    if credentials.security_token:
        headers["X-Security-Token"] = credentials.security_token
    request = SdkRequest(method="GET", schema=parts.scheme, host=parts.netloc, resource_path=parts.path,
                         query_params=parse_qsl(parts.query), header_params=headers, body="")
    signed: dict[str, str] = Signer(credentials).sign(request).header_params
    return signed


def timeouts(budget: float) -> tuple[float, float]:
    """(connect, read) so that two connect attempts and the read fit in the budget."""
    connect = min(CONNECT_TIMEOUT, budget / 5)
    return connect, budget - 2 * connect


def retry_after_seconds(value: Optional[str], now: datetime) -> Optional[float]:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_WAIT_LIMIT)  # 400 digits are no reason to wait forever (or to overflow)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def _read_body(response: requests.Response) -> Optional[bytes]:
    """The body, or None when it is larger than MAX_BODY."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _decoded(body: bytes, secrets: Secrets) -> Any:
    """The body's JSON with the secrets redacted; None when it is not JSON (such a body is never shown). Redacted
    once decoded: whatever escapes the server used (`\\/`, `\\u002b`), the decoded strings hold the secret."""
    try:
        text = body.decode(json.detect_encoding(body))  # as json.loads(bytes) reads it: UTF-8, -16 or -32
        return secrets.redacted_json(text, json.loads(text))
    except (ValueError, RecursionError):
        return None


def _error_fields(data: Any) -> tuple[Optional[str], Optional[str]]:
    """(code, message) from the error shapes Huawei Cloud services use."""
    if not isinstance(data, dict):
        return None, None
    if isinstance(data.get("error"), dict):
        data = data["error"]
    code = data.get("error_code") or data.get("code")
    message = data.get("error_msg") or data.get("message")
    return (str(code)[:100] if code else None), (str(message)[:300] if message else None)


def parse_reply(api: JobApi, status: int, headers: Any, body: bytes, now: datetime, secrets: Secrets) -> Reply:
    """The reply a response is, a Job or a Failure; no secret of `secrets` that the server echoed survives in it.
    Any 2xx holds the job: the job APIs document 200, and a 202 with the job's body is the job all the same."""
    data = _decoded(body, secrets)
    if 200 <= status < 300:
        if data is None:
            return Failure(FailureKind.BAD_RESPONSE, errors.NOT_JSON)
        if api.lists_no_job(data):  # treated as the 404 it means, grace period and all
            return Failure(FailureKind.HTTP, errors.LISTS_NO_JOB, 404)
        return api.job_of(data) or Failure(FailureKind.BAD_RESPONSE, errors.NO_JOB_STATUS)
    code, message = _error_fields(data)
    return Failure(FailureKind.HTTP, message or "", status, code, retry_after_seconds(headers.get("Retry-After"), now))


def _get(session: requests.Session, api: JobApi, url: str, headers: dict[str, str], secrets: Secrets,
         now: datetime, budget: float) -> Reply:
    try:
        # No redirects: the signed headers (and the token) must never follow one elsewhere.
        with session.get(url, headers=headers, timeout=timeouts(budget), allow_redirects=False,
                         stream=True) as response:
            body = _read_body(response)
            if body is None:
                return Failure(FailureKind.BAD_RESPONSE, errors.too_large(MAX_BODY))
            try:
                return parse_reply(api, response.status_code, response.headers, body, now, secrets)
            except Exception as exc:  # whatever the job API sent, a reply that cannot be read is retried
                return Failure(FailureKind.BAD_RESPONSE, errors.unreadable(exc))
    except requests.Timeout:
        return Failure(FailureKind.TIMEOUT, errors.no_answer(budget))
    except requests.RequestException as exc:
        if _CALLER.deadline_passed:  # the call's deadline ended a read of the body (see _DeadlineReads)
            return Failure(FailureKind.TIMEOUT, errors.no_answer(budget))
        return Failure(FailureKind.CONNECTION, errors.unreachable(urlsplit(url).netloc, exc))


def _may_reuse(session: requests.Session, url: str) -> bool:
    """Whether a request of `url` may find a kept-alive connection, so that it is worth trying in the caller's
    thread: the session is new_session()'s, with no proxy, and its PoolManager has a pool (urllib3 poolmanager.py,
    PoolManager.pools), i.e. it has connected before. When it has not (an instance's first call), the request goes
    straight to a worker. Whether a connection is really there is known only when urllib3 takes one from the pool
    (HTTPConnectionPool._get_conn: the last one put back, closed first if its socket was dropped), and
    _refuse_in_caller is what keeps the caller's thread off a new one."""
    if session.trust_env or session.proxies:
        return False
    try:
        adapter = session.get_adapter(url)
    except requests.RequestException:  # no adapter for the scheme: the worker gives the failure
        return False
    return isinstance(adapter, _Adapter) and len(adapter.poolmanager.pools) > 0


def _in_caller(task: Callable[[], Reply], deadline: float, read_timeout: float) -> Optional[Reply]:
    """The task's reply, run in this thread with every read bounded by `deadline` as well as by `read_timeout`, the
    one it gives requests; None if it needed a new connection, before anything was sent.

    The request itself, a GET of a few hundred bytes, goes out within the connect timeout: urllib3 gives the socket
    that timeout before sending on a reused connection (connection.py, HTTPConnection.request; connectionpool.py,
    _make_request), a plain socket's sendall counts it as "the maximum total duration to send all data" (Python's
    socket documentation, socket.sendall), and over TLS so few bytes are one record, one send."""
    _CALLER.deadline, _CALLER.read_timeout, _CALLER.deadline_passed = deadline, read_timeout, False
    try:
        return task()
    except _NeedsConnection:
        return None
    finally:
        _CALLER.deadline, _CALLER.deadline_passed = None, False


class _Call:
    """One request handed to a worker: its task, its outcome once done, and whether its caller stopped waiting."""

    def __init__(self, task: Callable[[], Reply]):
        self.task = task
        self.outcome: list[Any] = []
        self.done = threading.Lock()
        self.done.acquire()
        self.abandoned = False


class _Pool:
    """Threads that run one request at a time on a new connection, kept for the next one (starting a thread per call
    costs more than handing the request to one that waits). A request whose caller stopped waiting goes on until its
    socket timeouts end it, which a job API that trickles its answer can put off for hours: at most `limit` of them
    at once, after which a call answers at once instead of leaving one more thread and socket behind."""

    def __init__(self, limit: int):
        self.limit = limit
        self.idle: list[_Worker] = []  # waiting for a request; one busy with a request is not here
        self.abandoned = 0  # requests still running whose caller stopped waiting
        self.lock = threading.Lock()

    def run(self, task: Callable[[], Reply], budget: float) -> Optional[Reply]:
        """The task's reply; None when it is not done within `budget` seconds (it goes on, unwatched); a timeout,
        without starting it, while `limit` requests are abandoned."""
        with self.lock:
            if self.abandoned >= self.limit:
                return Failure(FailureKind.TIMEOUT, errors.still_unanswered(self.abandoned))
            worker = self.idle.pop() if self.idle else None
        call = _Call(task)
        (worker or _Worker(self)).hand(call)
        if call.done.acquire(timeout=budget):
            return _outcome(call)
        with self.lock:
            if not call.outcome:
                call.abandoned = True
                self.abandoned += 1
                return None
        return _outcome(call)  # it ended as the wait did

    def ended(self, worker: "_Worker", call: _Call, outcome: Any) -> None:
        with self.lock:
            call.outcome.append(outcome)
            if call.abandoned:
                self.abandoned -= 1
            self.idle.append(worker)  # free again, even if the caller stopped waiting
        call.done.release()


def _outcome(call: _Call) -> Reply:
    outcome = call.outcome[0]
    if isinstance(outcome, Exception):  # a bug: raised again in the caller's thread, where it is answered
        raise outcome
    reply: Reply = outcome
    return reply


class _Worker:
    """A thread that runs the requests handed to it, one at a time."""

    def __init__(self, pool: _Pool):
        self._pool = pool
        self._calls: list[_Call] = []  # the one handed over
        self._handed = threading.Lock()  # released when a call is handed over
        self._handed.acquire()
        threading.Thread(target=self._serve, name="jobstep-query", daemon=True).start()

    def hand(self, call: _Call) -> None:
        self._calls.append(call)
        self._handed.release()

    def _serve(self) -> None:
        while True:
            self._handed.acquire()
            self._do(self._calls.pop())  # a call per request: an idle worker keeps no session, key or reply alive

    def _do(self, call: _Call) -> None:
        try:
            outcome: Any = call.task()
        except Exception as exc:
            outcome = exc
        self._pool.ended(self, call, outcome)


# Requests abandoned to a job API that does not finish them, at most: a few, each a thread and a socket.
MAX_ABANDONED = 4
_POOL = _Pool(MAX_ABANDONED)


def fetch_job(session: requests.Session, target: Target, credentials: Credentials, now: datetime,
              budget: float) -> Reply:
    """GET the job once; the reply comes within `budget` seconds, whatever the server does.

    requests' timeouts bound each socket operation, not the request ("not a time limit on the entire response
    download", requests' quickstart, Timeouts), and nothing bounds a DNS lookup. A job API that trickles its
    headers or body, stalls a TLS handshake or answers DNS slowly would keep the call past the function's own
    timeout. So a request on a kept-alive connection (a warm call: no DNS, no connect, no TLS handshake) runs in
    the caller's thread with each read bounded by the deadline (_DeadlineReads), and one that needs a new
    connection runs on a worker thread that the caller stops waiting for when the budget is spent; the worker's
    socket timeouts end the request later, and _Pool bounds how many do so at once.
    """
    began = time.monotonic()
    headers = signed_headers(target.url, credentials, target.project_id, now)
    authorization = headers["Authorization"]
    # The Authorization value holds nothing else secret: the access key and the signature.
    secrets = Secrets.of(credentials.ak, credentials.sk, credentials.security_token or "",
                         authorization.rpartition("Signature=")[2])

    def task() -> Reply:
        return _get(session, target.api, target.url, headers, secrets, now, budget)

    if _may_reuse(session, target.url):
        warm = _in_caller(task, began + budget, timeouts(budget)[1])
        if warm is not None:
            return warm
    reply = _POOL.run(task, budget - (time.monotonic() - began))
    return reply if reply is not None else Failure(FailureKind.TIMEOUT, errors.no_answer(budget))
