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

from .credentials import Credentials
from .model import Failure, FailureKind, Reply
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
    return Signer(credentials).sign(request).header_params


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
        return float(value)
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


def _redacted(value: Any, secrets: tuple[str, ...]) -> Any:
    """Decoded JSON with every secret replaced: whatever escapes the server used (`\\/`, `\\u002b`), the decoded
    strings hold the secret as it is."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    if isinstance(value, dict):
        return {_redacted(key, secrets): _redacted(item, secrets) for key, item in value.items()}
    return value


def _decoded(body: bytes, secrets: tuple[str, ...]) -> Any:
    """The body's JSON with the secrets redacted; None when it is not JSON (such a body is never shown)."""
    try:
        return _redacted(json.loads(body), secrets)
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


def parse_reply(api: JobApi, status: int, headers: Any, body: bytes, now: datetime, secrets: tuple[str, ...]) -> Reply:
    """The answer as a Job or a Failure; no secret of `secrets` that the server echoed survives in it."""
    data = _decoded(body, secrets)
    if status == 200:
        if data is None:
            return Failure(FailureKind.BAD_RESPONSE, "the answer was not JSON")
        if api.lists_no_job(data):  # treated as the 404 it means, grace period and all
            return Failure(FailureKind.HTTP, "the job API lists no job with this id", 404)
        return api.job_of(data) or Failure(FailureKind.BAD_RESPONSE, "the answer had no job status")
    code, message = _error_fields(data)
    return Failure(FailureKind.HTTP, message or "", status, code, retry_after_seconds(headers.get("Retry-After"), now))


def _get(session: requests.Session, api: JobApi, url: str, headers: dict[str, str], secrets: tuple[str, ...],
         now: datetime, budget: float) -> Reply:
    try:
        # No redirects: the signed headers (and the token) must never follow one elsewhere.
        with session.get(url, headers=headers, timeout=timeouts(budget), allow_redirects=False,
                         stream=True) as response:
            body = _read_body(response)
            if body is None:
                return Failure(FailureKind.BAD_RESPONSE, f"the answer was larger than {MAX_BODY} bytes")
            return parse_reply(api, response.status_code, response.headers, body, now, secrets)
    except requests.Timeout:
        return Failure(FailureKind.TIMEOUT, f"no answer within {budget:.1f} s")
    except requests.RequestException as exc:
        return Failure(FailureKind.CONNECTION, f"could not reach {urlsplit(url).netloc}: {type(exc).__name__}")


class _Worker:
    """A thread that runs one request at a time, kept for the next warm call: starting a thread per call costs
    more than handing the request to one that waits."""

    def __init__(self, idle: list["_Worker"]):
        self._idle = idle
        self._tasks: list[tuple[Callable[[], Reply], list[Any], threading.Lock]] = []  # the one handed over
        self._handed = threading.Lock()  # released when a task is handed over
        self._handed.acquire()
        threading.Thread(target=self._serve, name="jobstep-query", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._handed.acquire()
            self._do(*self._tasks.pop())  # a call per task: an idle worker keeps no session, key or reply alive

    def _do(self, task: Callable[[], Reply], outcome: list[Any], done: threading.Lock) -> None:
        try:
            outcome.append(task())
        except Exception as exc:  # a bug: raised again in the caller's thread, where it becomes an answer
            outcome.append(exc)
        self._idle.append(self)  # free again, even if the caller stopped waiting
        done.release()

    def run(self, task: Callable[[], Reply], budget: float) -> Optional[Reply]:
        """The task's reply, or None when it is not done within `budget` seconds (it goes on, unwatched)."""
        outcome: list[Any] = []
        done = threading.Lock()
        done.acquire()
        self._tasks.append((task, outcome, done))
        self._handed.release()
        if not done.acquire(timeout=budget):
            return None
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]


_IDLE: list[_Worker] = []  # workers waiting for a request; one stuck in a slow request is not here


def _within(task: Callable[[], Reply], budget: float) -> Optional[Reply]:
    try:
        worker = _IDLE.pop()
    except IndexError:
        worker = _Worker(_IDLE)
    return worker.run(task, budget)


def fetch_job(
    session: requests.Session,
    api: JobApi,
    url: str,
    credentials: Credentials,
    project_id: str,
    now: datetime,
    budget: float,
) -> Reply:
    """GET the job once; the reply comes within `budget` seconds, whatever the server does.

    requests' timeouts bound each socket operation, not the request ("not a time limit on the entire response
    download", requests' quickstart, Timeouts), and nothing bounds a DNS lookup. A job API that trickles its
    headers or body, stalls a TLS handshake or answers DNS slowly would keep the call past the function's own
    timeout, so the request runs on a worker thread that the caller stops waiting for when the budget is
    spent; the worker's socket timeouts end the request later.
    """
    headers = signed_headers(url, credentials, project_id, now)
    authorization = headers["Authorization"]
    # Longest first: the Authorization value holds the access key and the signature.
    secrets = tuple(secret for secret in (authorization, credentials.sk, credentials.security_token,
                                          authorization.rpartition("Signature=")[2], credentials.ak) if secret)
    reply = _within(lambda: _get(session, api, url, headers, secrets, now, budget), budget)
    return reply if reply is not None else Failure(FailureKind.TIMEOUT, f"no answer within {budget:.1f} s")
