"""Configuration from the function's environment variables: a pure read of a mapping."""

import ipaddress
from collections.abc import Mapping
from typing import NamedTuple, Optional
from urllib.parse import urlsplit

from .events import MAX_WAIT_LIMIT, valid_id, valid_region
from .policy import DEFAULT_GROWTH, DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, Policy
from .services import DEFAULT_SERVICE, SERVICES

MAX_DELAY_LIMIT = 3600  # an hour between queries is already more than any job API needs


class ConfigError(ValueError):
    """A variable is set to something unusable; the message names it and says what it must be."""


class Config(NamedTuple):
    region: Optional[str] = None
    endpoint: Optional[str] = None
    max_wait: int = 3600
    not_found_grace: int = 60
    project_id: Optional[str] = None
    service: str = DEFAULT_SERVICE
    min_delay: int = DEFAULT_MIN_DELAY
    max_delay: int = DEFAULT_MAX_DELAY
    growth: float = DEFAULT_GROWTH

    def policy(self, max_wait: int) -> Policy:
        return Policy(max_wait=max_wait, not_found_grace=self.not_found_grace, min_delay=self.min_delay,
                      max_delay=self.max_delay, growth=self.growth)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _endpoint(value: str) -> str:
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ConfigError(f"JOBSTEP_ENDPOINT is not a URL: {exc}") from None
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            "JOBSTEP_ENDPOINT must be a base URL like https://elb.example.com, with no user, query or fragment"
        )
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise ConfigError("JOBSTEP_ENDPOINT must use https:// (plain http:// only for a loopback host)")
    return value.rstrip("/")


def _seconds(environ: Mapping[str, str], name: str, default: int, lowest: int, highest: int = MAX_WAIT_LIMIT) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not lowest <= int(raw) <= highest:
        raise ConfigError(f"{name} must be whole seconds from {lowest} to {highest}, got {raw!r:.40}")
    return int(raw)


def _growth(environ: Mapping[str, str]) -> float:
    raw = environ.get("JOBSTEP_DELAY_GROWTH", "").strip()
    if not raw:
        return DEFAULT_GROWTH
    try:
        growth = float(raw) if raw.isascii() else None
    except ValueError:
        growth = None
    if growth is None or not 0.01 <= growth <= 1:
        raise ConfigError(f"JOBSTEP_DELAY_GROWTH must be a fraction of the job's age from 0.01 to 1, got {raw!r:.40}")
    return growth


def load_config(environ: Mapping[str, str]) -> Config:
    region = environ.get("JOBSTEP_REGION") or None
    if region is not None and not valid_region(region):
        raise ConfigError(f"JOBSTEP_REGION must look like ap-southeast-1, got {region!r:.40}")
    service = environ.get("JOBSTEP_SERVICE") or DEFAULT_SERVICE
    if service not in SERVICES:
        raise ConfigError(f"JOBSTEP_SERVICE must be one of {', '.join(SERVICES)}, got {service!r:.40}")
    endpoint = environ.get("JOBSTEP_ENDPOINT") or None
    # FunctionGraph presets RUNTIME_PROJECT_ID; the SDK's variable serves local runs.
    project_id = environ.get("RUNTIME_PROJECT_ID") or environ.get("HUAWEICLOUD_SDK_PROJECT_ID") or None
    if project_id is not None and not valid_id(project_id):
        raise ConfigError("RUNTIME_PROJECT_ID / HUAWEICLOUD_SDK_PROJECT_ID must be a project ID (letters, digits, '-')")
    min_delay = _seconds(environ, "JOBSTEP_MIN_DELAY", DEFAULT_MIN_DELAY, 1, MAX_DELAY_LIMIT)
    max_delay = _seconds(environ, "JOBSTEP_MAX_DELAY", max(DEFAULT_MAX_DELAY, min_delay), min_delay, MAX_DELAY_LIMIT)
    return Config(
        region=region,
        endpoint=_endpoint(endpoint) if endpoint else None,
        max_wait=_seconds(environ, "JOBSTEP_MAX_WAIT", 3600, 1),
        not_found_grace=_seconds(environ, "JOBSTEP_NOT_FOUND_GRACE", 60, 0),
        project_id=project_id,
        service=service,
        min_delay=min_delay,
        max_delay=max_delay,
        growth=_growth(environ),
    )
