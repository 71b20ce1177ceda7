"""The job API client: one signed GET of the job, its answer as a Job or a Failure. Never raises."""

import json
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, urlsplit

import requests
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import errors
from .config import Target
from .credentials import Credentials
from .model import MAX_WAIT_LIMIT, Failure, FailureKind, Reply
from .redact import Secrets
from .services import JobApi

MAX_BODY = 1024 * 1024  # a job answer is a few hundred bytes; more is not the job API
CONNECT_TIMEOUT = 2.0  # a regional endpoint connects in milliseconds


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
    adapter = HTTPAdapter(max_retries=retry)
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
        return Failure(FailureKind.CONNECTION, errors.unreachable(urlsplit(url).netloc, exc))


class _Call:
    """One request handed to a worker: its task, its outcome once done, and whether its caller stopped waiting."""

    def __init__(self, task: Callable[[], Reply]):
        self.task = task
        self.outcome: list[Any] = []
        self.done = threading.Lock()
        self.done.acquire()
        self.abandoned = False


class _Pool:
    """Threads that run one request at a time, kept for the next warm call (starting a thread per call costs more
    than handing the request to one that waits). A request whose caller stopped waiting goes on until its socket
    timeouts end it, which a job API that trickles its answer can put off for hours: at most `limit` of them at
    once, after which a call answers at once instead of leaving one more thread and socket behind."""

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
    timeout, so the request runs on a worker thread that the caller stops waiting for when the budget is
    spent; the worker's socket timeouts end the request later, and _Pool bounds how many do so at once.
    """
    headers = signed_headers(target.url, credentials, target.project_id, now)
    authorization = headers["Authorization"]
    # The Authorization value holds nothing else secret: the access key and the signature.
    secrets = Secrets.of(credentials.ak, credentials.sk, credentials.security_token or "",
                         authorization.rpartition("Signature=")[2])
    reply = _POOL.run(lambda: _get(session, target.api, target.url, headers, secrets, now, budget), budget)
    return reply if reply is not None else Failure(FailureKind.TIMEOUT, errors.no_answer(budget))
