"""Configuration: the function's environment variables read into a Config (a pure read of a mapping, and of the
code package's files through `read_file`), and where one query goes once the event's own fields have taken
precedence over it (`resolve`, pure as well)."""

import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from typing import Callable, NamedTuple, Optional, Union
from urllib.parse import urlsplit

from . import errors
from .events import Query
from .model import MAX_WAIT_LIMIT, ConfigError, Error, JobRef, Poll, ServiceError, valid_id, valid_region
from .policy import DEFAULT_MAX_WAIT, Policy
from .services import DEFAULT_SERVICE, SERVICES, JobApi, entries, job_api

MAX_DELAY_LIMIT = 3600  # an hour between queries is already more than any job API needs
_DEFAULT = Policy()


class Config(NamedTuple):
    region: Optional[str] = None
    endpoint: Optional[str] = None
    project_id: Optional[str] = None
    service: str = DEFAULT_SERVICE
    max_wait: int = DEFAULT_MAX_WAIT
    policy: Policy = _DEFAULT
    services: Mapping[str, JobApi] = SERVICES  # the built-in job APIs and the user's own (JOBSTEP_SERVICES)


class Target(NamedTuple):
    """Where one query goes, complete: the job, its project, its job API and the URL of its query."""

    job_id: str
    project_id: str
    api: JobApi
    url: str


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(value: str, name: str, example: str) -> str:
    """`value` as the base URL that signed requests go to (JOBSTEP_ENDPOINT, `jobstep deploy --endpoint`): https,
    or plain http to this machine only (a stand-in, a local proxy); no user, path, query or fragment. ConfigError
    names `name` and shows `example` otherwise."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise ConfigError(f"{name} is not a URL ({exc}): give a base URL like {example}") from None
    if not host or parts.username or parts.password or parts.query or parts.fragment or parts.path.strip("/"):
        raise ConfigError(f"{name} must be a base URL like {example}, with no user, path, query or fragment")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(host)):
        raise ConfigError(f"{name} must use https:// (plain http:// only for a loopback host)")
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
    """The built-in job APIs and the user's own, from a JSON object of entries read as the built-in ones are
    (services.entries, services.job_api); ConfigError names the entry and key at fault."""
    try:
        read = entries(text, "JOBSTEP_SERVICES")
        built_in = next((name for name in read if name in SERVICES), None)
        if built_in:
            raise ServiceError(f"JOBSTEP_SERVICES: {built_in!r} is built in; give your entry another name")
        return SERVICES.with_own({name: job_api(name, entry) for name, entry in read.items()})
    except ServiceError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith("JOBSTEP_SERVICES") else f"JOBSTEP_SERVICES: {message}") \
            from None


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
    return custom_services(value)


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
        endpoint=base_url(endpoint, "JOBSTEP_ENDPOINT", "https://elb.example.com") if endpoint else None,
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


def settle(query: Query, config: Config) -> tuple[JobRef, Poll]:
    """Which job the query names and the loop's state, the event's own fields over the configuration's."""
    ref = JobRef(query.job_id, query.project_id or config.project_id, query.region or config.region,
                 query.service or config.service)
    return ref, query.poll._replace(max_wait=query.poll.max_wait or config.max_wait)


def resolve(query: Query, config: Config) -> Union[Target, Error]:
    """Where the query goes, settled as `settle` does, or why it cannot be sent: a service the registry does not
    have, no project, no region."""
    ref, _ = settle(query, config)
    service = ref.service or config.service
    api = config.services.get(service)
    if api is None:
        return errors.unknown_service(service, config.services)
    if not ref.project_id:
        return errors.NO_PROJECT
    base = endpoint(config, api, ref.region)
    if not base:
        return errors.NO_REGION
    return Target(query.job_id, ref.project_id, api, api.url(base, ref.project_id, query.job_id))
