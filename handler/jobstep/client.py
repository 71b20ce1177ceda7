"""The job API client: one signed GET of the job, its answer as a Job or a Failure. Never raises."""

import json
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .credentials import Credentials
from .model import Failure, Job, Reply
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
                         query_params=[], header_params=headers, body="")
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


def _read_body(response: requests.Response, deadline: float) -> Optional[bytes]:
    """The body, or None when it is larger than MAX_BODY or still arriving at the deadline."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY or time.monotonic() > deadline:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error_fields(body: bytes) -> tuple[Optional[str], Optional[str]]:
    """(code, message) from the error shapes Huawei Cloud services use."""
    try:
        data: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    if isinstance(data.get("error"), dict):
        data = data["error"]
    code = data.get("error_code") or data.get("code")
    message = data.get("error_msg") or data.get("message")
    return (str(code)[:100] if code else None), (str(message)[:300] if message else None)


def parse_reply(api: JobApi, status: int, headers: Any, body: bytes, now: datetime) -> Reply:
    if status == 200:
        try:
            data = json.loads(body)
        except ValueError:
            return Failure("bad_response", "the answer was not JSON")
        fields = api.job_fields(data)
        job = Job.from_fields(fields) if fields is not None else None
        return job or Failure("bad_response", "the answer had no job status")
    code, message = _error_fields(body)
    return Failure("http", message or "", status, code, retry_after_seconds(headers.get("Retry-After"), now))


def fetch_job(
    session: requests.Session,
    api: JobApi,
    url: str,
    credentials: Credentials,
    project_id: str,
    now: datetime,
    budget: float,
) -> Reply:
    """GET the job once, within `budget` seconds."""
    deadline = time.monotonic() + budget
    headers = signed_headers(url, credentials, project_id, now)
    try:
        # No redirects: the signed headers (and the token) must never follow one elsewhere.
        with session.get(url, headers=headers, timeout=timeouts(budget), allow_redirects=False,
                         stream=True) as response:
            body = _read_body(response, deadline)
            if body is None:
                return Failure("bad_response", f"the answer was larger than {MAX_BODY} bytes or too slow")
            # The body is the server's text: an echo of our keys or signature must not reach a result or a log.
            for secret in (credentials.ak, credentials.sk, credentials.security_token, headers["Authorization"]):
                body = body.replace(secret.encode(), b"[redacted]") if secret else body
            return parse_reply(api, response.status_code, response.headers, body, now)
    except requests.Timeout:
        return Failure("timeout", f"no answer within {budget:.1f} s")
    except requests.RequestException as exc:
        return Failure("connection", f"could not reach {urlsplit(url).netloc}: {type(exc).__name__}")
