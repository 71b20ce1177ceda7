"""Configuration: the function's environment variables read into a Config (a pure read of a mapping, and of the
code package's files through `read_file`), and where one query goes once the event's own fields have taken
precedence over it (`resolve`, pure as well)."""

import ipaddress
import json
from collections import ChainMap
from collections.abc import Mapping
from functools import lru_cache
from typing import Callable, NamedTuple, Optional
from urllib.parse import urlsplit

from .events import Query
from .model import MAX_WAIT_LIMIT, Error, ErrorType, Poll, valid_id, valid_region, valid_service_name
from .policy import DEFAULT_MAX_WAIT, Policy
from .services import DEFAULT_SERVICE, SERVICES, JobApi, ServiceError, job_api

MAX_DELAY_LIMIT = 3600  # an hour between queries is already more than any job API needs
_DEFAULT = Policy()


class ConfigError(ValueError):
    """A variable is set to something unusable; the message names it and says what it must be."""


class Config(NamedTuple):
    region: Optional[str] = None
    endpoint: Optional[str] = None
    project_id: Optional[str] = None
    service: str = DEFAULT_SERVICE
    max_wait: int = DEFAULT_MAX_WAIT
    policy: Policy = _DEFAULT
    services: Mapping[str, JobApi] = SERVICES  # the built-in job APIs and the user's own (JOBSTEP_SERVICES)


class Target(NamedTuple):
    """Where one query goes, every field settled: the event's own, else the configuration's."""

    job_id: str
    project_id: Optional[str]
    region: Optional[str]
    service: str
    api: Optional[JobApi]  # None for a service the registry does not have
    url: Optional[str]  # None without a job API, a project or a region
    poll: Poll  # with max_wait settled


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
        return _DEFAULT.growth
    try:
        growth = float(raw) if raw.isascii() else None
    except ValueError:
        growth = None
    if growth is None or not 0.01 <= growth <= 1:
        raise ConfigError(f"JOBSTEP_DELAY_GROWTH must be a fraction of the job's age from 0.01 to 1, got {raw!r:.40}")
    return growth


@lru_cache(maxsize=4)  # the same text on every call of an instance: read it once
def custom_services(text: str) -> Mapping[str, JobApi]:
    """The user's own job APIs, from a JSON object of entries; ConfigError names the entry and key at fault."""
    try:
        entries = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"JOBSTEP_SERVICES is not JSON: {exc}") from None
    except RecursionError:
        raise ConfigError("JOBSTEP_SERVICES is nested too deeply to be registry entries") from None
    if not isinstance(entries, dict):
        raise ConfigError('JOBSTEP_SERVICES must be a JSON object: {"<name>": {<entry>}, ...}')
    services = {}
    for name, entry in entries.items():
        if not valid_service_name(name):
            raise ConfigError(f"JOBSTEP_SERVICES: {name!r:.40} is not a service name (1-32 of a-z, 0-9, '-', '_')")
        if name in SERVICES:
            raise ConfigError(f"JOBSTEP_SERVICES: {name!r} is built in; give your entry another name")
        try:
            services[name] = job_api(name, entry)
        except ServiceError as exc:
            raise ConfigError(f"JOBSTEP_SERVICES: {exc}") from None
    return services


def _services(environ: Mapping[str, str], read_file: Callable[[str], str]) -> Mapping[str, JobApi]:
    value = environ.get("JOBSTEP_SERVICES", "").strip()
    if not value:
        return SERVICES
    if not value.startswith(("{", "[")):  # not JSON: the name of a file of the code package
        try:
            value = read_file(value)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"JOBSTEP_SERVICES names {value!r:.80}, which is not a readable file of the code"
                              f" package ({type(exc).__name__})") from None
    return ChainMap(custom_services(value), SERVICES)


def load_config(environ: Mapping[str, str], read_file: Callable[[str], str]) -> Config:
    """The configuration in `environ`; `read_file` reads a file of the code package by its relative name."""
    region = environ.get("JOBSTEP_REGION") or None
    if region is not None and not valid_region(region):
        raise ConfigError(f"JOBSTEP_REGION must look like ap-southeast-1, got {region!r:.40}")
    services = _services(environ, read_file)
    service = environ.get("JOBSTEP_SERVICE") or DEFAULT_SERVICE
    if service not in services:
        raise ConfigError(f"JOBSTEP_SERVICE must be one of {', '.join(services)}, got {service!r:.40}")
    endpoint = environ.get("JOBSTEP_ENDPOINT") or None
    # FunctionGraph presets RUNTIME_PROJECT_ID; the SDK's variable serves local runs.
    project_id = environ.get("RUNTIME_PROJECT_ID") or environ.get("HUAWEICLOUD_SDK_PROJECT_ID") or None
    if project_id is not None and not valid_id(project_id):
        raise ConfigError("RUNTIME_PROJECT_ID / HUAWEICLOUD_SDK_PROJECT_ID must be a project ID (letters, digits, '-')")
    min_delay = _seconds(environ, "JOBSTEP_MIN_DELAY", _DEFAULT.min_delay, 1, MAX_DELAY_LIMIT)
    max_delay = _seconds(environ, "JOBSTEP_MAX_DELAY", max(_DEFAULT.max_delay, min_delay), min_delay, MAX_DELAY_LIMIT)
    policy = Policy(
        not_found_grace=_seconds(environ, "JOBSTEP_NOT_FOUND_GRACE", _DEFAULT.not_found_grace, 0),
        min_delay=min_delay,
        max_delay=max_delay,
        max_aimed_delay=max_delay if environ.get("JOBSTEP_MAX_DELAY") else _DEFAULT.max_aimed_delay,
        growth=_growth(environ),
    )
    return Config(
        region=region,
        endpoint=_endpoint(endpoint) if endpoint else None,
        project_id=project_id,
        service=service,
        max_wait=_seconds(environ, "JOBSTEP_MAX_WAIT", DEFAULT_MAX_WAIT, 1),
        policy=policy,
        services=services,
    )


def endpoint(config: Config, api: JobApi, region: Optional[str]) -> Optional[str]:
    """The base URL: JOBSTEP_ENDPOINT, else the service's regional host; never anything an event spells."""
    if config.endpoint:
        return config.endpoint
    return api.regional_endpoint(region) if region else None


def resolve(query: Query, config: Config) -> tuple[Target, Optional[Error]]:
    """The query's target, its own fields over the configuration's, and why it cannot be queried (a service the
    registry does not have, no project, no region), if so."""
    project_id = query.project_id or config.project_id
    region = query.region or config.region
    service = query.service or config.service
    api = config.services.get(service)
    base = endpoint(config, api, region) if api else None
    url = api.url(base, project_id, query.job_id) if api and base and project_id else None
    poll = query.poll._replace(max_wait=query.poll.max_wait or config.max_wait)
    target = Target(query.job_id, project_id, region, service, api, url, poll)
    if api is None:
        return target, Error(ErrorType.INVALID_INPUT, f"service must be one of {', '.join(config.services)};"
                             f" got {service!r:.40}", False)
    if not project_id:
        return target, Error(ErrorType.CONFIGURATION, "No project ID: pass project_id in the event, or set "
                             "HUAWEICLOUD_SDK_PROJECT_ID (FunctionGraph sets RUNTIME_PROJECT_ID itself).", False)
    if not base:
        return target, Error(ErrorType.CONFIGURATION, "No region: pass region in the event, or set JOBSTEP_REGION "
                             "(for example ap-southeast-1).", False)
    return target, None
