"""SDK-HMAC-SHA256 signature checking, written from the API Request Signing Guide.

This is the gateway's side of signing, used by the simulator. It shares no code with
huaweicloudsdkcore's signer on purpose: the tests prove it on the guide's published
vectors, then use it to judge the requests the handler signs with the SDK.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Callable, Optional
from urllib.parse import parse_qsl, quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]+)"
)


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded; always ends with '/'."""
    uri = "/".join(_encode(unquote(segment)) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    pairs = sorted((_encode(k), _encode(v)) for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in signed_headers)
    body_hash = lowered.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), canonical_headers,
         ";".join(signed_headers), body_hash]
    )


def signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    string_to_sign = "\n".join([ALGORITHM, sdk_date, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> Optional[tuple[str, list[str], str]]:
    """(access key, signed header names, signature), or None when it is not SDK-HMAC-SHA256."""
    match = _AUTHORIZATION.fullmatch(value.strip())
    if not match:
        return None
    return match["ak"], match["signed"].split(";"), match["sig"]


def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], Optional[str]],
) -> Optional[str]:
    """None when the request is correctly signed, else why not (as the gateway would say it)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    parsed = parse_authorization(lowered.get("authorization", ""))
    if parsed is None:
        return "Authorization header missing or not SDK-HMAC-SHA256"
    access_key, signed_headers, claimed = parsed
    if signed_headers != sorted(signed_headers):
        return "SignedHeaders not sorted"
    if "x-sdk-date" not in signed_headers:
        return "x-sdk-date is not signed"
    missing = [name for name in signed_headers if name not in lowered]
    if missing:
        return "signed header absent: " + ",".join(missing)
    secret_key = secret_for(access_key)
    if secret_key is None:
        return "unknown access key"
    path, _, query = target.partition("?")
    canonical = canonical_request(method, path, query, lowered, signed_headers, body)
    expected = signature(secret_key, lowered["x-sdk-date"], canonical)
    if not hmac.compare_digest(expected, claimed):
        return "signature mismatch"
    return None


Keys = Mapping[str, tuple[str, Optional[str]]]  # access key -> (secret key, security token or None)
INVALID_TOKEN = "invalid token"


def check(method: str, target: str, headers: Mapping[str, str], body: bytes, keys: Keys) -> Optional[str]:
    """`verify` against `keys`, and then, for temporary keys, their token: sent in X-Security-Token and signed, as
    the gateway wants it (else INVALID_TOKEN). None when all is well."""
    problem = verify(method, target, headers, body, lambda access_key: keys.get(access_key, ("", None))[0] or None)
    if problem:
        return problem
    lowered = {name.lower(): value for name, value in headers.items()}
    access_key, signed, _ = parse_authorization(lowered["authorization"]) or ("", [], "")
    token = keys[access_key][1]
    if token is not None and (lowered.get("x-security-token") != token or "x-security-token" not in signed):
        return INVALID_TOKEN
    return None
