"""Which keys sign the request (the agency's temporary keys from the context, else the SDK's variables), and
why they cannot."""

from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Union

from . import errors
from .model import Error


class Credentials(NamedTuple):
    """What the SDK's Signer reads (ak, sk), plus the token that temporary keys need."""

    ak: str
    sk: str
    security_token: Optional[str] = None
    source: str = "environment"

    def __repr__(self) -> str:  # the secret key and the token never reach a log or a traceback
        return f"Credentials(ak={self.ak!r}, source={self.source!r})"


def context_value(context: Any, method: str) -> Optional[str]:
    """A string from a FunctionGraph context method, trimmed; None when absent, blank or failing."""
    try:
        value = getattr(context, method)()
    except Exception:  # a local or partial context: treat as absent
        return None
    return (value.strip() or None) if isinstance(value, str) else None


def _variable(environ: Mapping[str, str], name: str) -> Optional[str]:
    # A key pasted into a variable often brings a newline or spaces along: they are never part of it.
    return environ.get(name, "").strip() or None


def find_credentials(context: Any, environ: Mapping[str, str]) -> Optional[Credentials]:
    # Read on every call: the runtime refreshes the agency's keys, and a rotated key must take effect.
    ak = context_value(context, "getSecurityAccessKey")
    sk = context_value(context, "getSecuritySecretKey")
    if ak and sk:
        return Credentials(ak, sk, context_value(context, "getSecurityToken"), "agency")
    # The variable names huaweicloudsdkcore's EnvCredentialProvider reads.
    ak, sk = _variable(environ, "HUAWEICLOUD_SDK_AK"), _variable(environ, "HUAWEICLOUD_SDK_SK")
    if ak and sk:
        return Credentials(ak, sk, _variable(environ, "HUAWEICLOUD_SDK_SECURITY_TOKEN"), "environment")
    return None


_NAMES = {
    "agency": ("the agency's temporary access key", "the agency's temporary secret key", "the agency's security token"),
    "environment": ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN"),
}


def _visible_ascii(value: str) -> bool:
    """What access keys, secret keys and tokens are made of: no space, control or non-ASCII character."""
    return value.isascii() and value.isprintable() and " " not in value


def credentials_problem(credentials: Credentials) -> Optional[Error]:
    """Why these keys cannot sign a request, or None. No retry helps."""
    values = (credentials.ak, credentials.sk, credentials.security_token)
    for name, value in zip(_NAMES[credentials.source], values):
        if value is not None and not _visible_ascii(value):
            return errors.unusable_key(name)
    return None


def signing_keys(context: Any, environ: Mapping[str, str]) -> Union[Credentials, Error]:
    """The keys that sign this call's request (find_credentials), or why there are none that can."""
    credentials = find_credentials(context, environ)
    if credentials is None:
        return errors.NO_CREDENTIALS
    return credentials_problem(credentials) or credentials
