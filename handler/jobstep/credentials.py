"""Which keys sign the request: the agency's temporary keys from the context, else the SDK's variables."""

from collections.abc import Mapping
from typing import Any, NamedTuple, Optional


class Credentials(NamedTuple):
    """What the SDK's Signer reads (ak, sk), plus the token that temporary keys need."""

    ak: str
    sk: str
    security_token: Optional[str] = None
    source: str = "environment"

    def __repr__(self) -> str:  # the secret key and the token never reach a log or a traceback
        return f"Credentials(ak={self.ak!r}, source={self.source!r})"


def context_value(context: Any, method: str) -> Optional[str]:
    """A string from a FunctionGraph context method; None when absent, empty or failing."""
    try:
        value = getattr(context, method)()
    except Exception:  # a local or partial context: treat as absent
        return None
    return value if isinstance(value, str) and value else None


def find_credentials(context: Any, environ: Mapping[str, str]) -> Optional[Credentials]:
    # Read on every call: the runtime refreshes the agency's keys, and a rotated key must take effect.
    ak = context_value(context, "getSecurityAccessKey")
    sk = context_value(context, "getSecuritySecretKey")
    if ak and sk:
        return Credentials(ak, sk, context_value(context, "getSecurityToken"), "agency")
    # The variable names huaweicloudsdkcore's EnvCredentialProvider reads.
    ak, sk = environ.get("HUAWEICLOUD_SDK_AK"), environ.get("HUAWEICLOUD_SDK_SK")
    if ak and sk:
        return Credentials(ak, sk, environ.get("HUAWEICLOUD_SDK_SECURITY_TOKEN") or None, "environment")
    return None
