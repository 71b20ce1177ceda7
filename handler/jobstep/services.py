"""The registry of job APIs, as data: where each service's job query lives, where its body holds the job and each
of the job's fields, and what its statuses mean. The only way a service name reaches a host and a path.

The built-in entries are services.json, beside this module; a user's own (JOBSTEP_SERVICES) are the same JSON, read
by the same `entries` and checked by the same `job_api`. Each entry has the keys of ENTRY_KEYS; a field path is
dotted keys into the body ("job.status", "jobs.0"). The built-in entries follow each service's official Python SDK
(huaweicloudsdk<service> 3.1.219: the call, its path, its response model and its region table) and its API
reference page for the status values; each entry's `source` says which, and README.md lists them.
"""

import json
import math
import os
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Optional
from urllib.parse import quote

from .model import (
    Job,
    ServiceError,
    Status,
    SubJob,
    SubJobs,
    normal_status,
    reported_text,
    sub_job_count,
    valid_service_name,
)

DEFAULT_SERVICE = "elb"
# The normalised job fields an entry may map, and those of a sub-job (its entities name its resource: ECS's server_id).
JOB_FIELDS = ("status", "job_id", "job_type", "begin_time", "end_time", "error_code", "fail_reason", "entities",
              "sub_jobs", "sub_jobs_total", "progress", "expected_end_time")
SUB_JOB_FIELDS = ("status", "job_id", "job_type", "error_code", "fail_reason", "entities")
ENTRY_KEYS = ("source", "host", "hosts", "domains", "path", "query", "job", "fields", "sub_job", "progress_scale",
              "success", "failure", "running")
# How an entry's progress field counts: percent (0-100, or a string such as "60%") or a fraction (0-1).
PROGRESS_SCALES = ("percent", "fraction")
# The endpoint's domain; an entry's "domains" names the regions where its SDK's region table says another one
# (eu-west-101 is myhuaweicloud.eu for some services and not others; DWS has regions under myhuaweicloud.cn).
DOMAIN = "myhuaweicloud.com"
DOMAINS = ("myhuaweicloud.com", "myhuaweicloud.eu", "myhuaweicloud.cn")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_PATH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/{}")
# The name the registry had for EIP's job API before it was found to be EIP's: kept, so that loops go on.
ALIASES = {"vpc": "eip"}


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


class JobApi(NamedTuple):
    """One job API, read from its entry, every key of which it keeps."""

    source: str  # where the entry comes from: the SDK call and the pages its statuses are taken from
    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    job: tuple[str, ...]  # where the job object sits in the body
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # normalised name, path in the job object (absent: unmapped)
    sub_job: tuple[tuple[str, tuple[str, ...]], ...]
    progress_scale: str
    success: tuple[str, ...]  # the statuses of each kind, as the API writes them
    failure: tuple[str, ...]
    running: tuple[str, ...]
    outcomes: tuple[tuple[str, Status], ...]  # of success and failure: each status normalised, and what it means
    hosts: tuple[tuple[str, str], ...] = ()
    domains: tuple[tuple[str, str], ...] = ()

    def url(self, base: str, project_id: str, job_id: str) -> str:
        values = {"project_id": quote(project_id, safe=""), "job_id": quote(job_id, safe="")}
        query = "&".join(f"{name}={value.format(**values)}" for name, value in self.query)
        return base + self.path.format(**values) + (f"?{query}" if query else "")

    def regional_endpoint(self, region: str) -> str:
        host = dict(self.hosts).get(region, self.host)
        domain = dict(self.domains).get(region, DOMAIN)
        return f"https://{host}.{region}.{domain}"

    def outcome(self, status: str) -> Optional[Status]:
        """SUCCESS or FAIL when `status` ends the job, by this API's own words; None while it runs (or is unknown)."""
        return dict(self.outcomes).get(normal_status(status))

    def lists_no_job(self, body: Any) -> bool:
        """Whether the body is a list by id (GeminiDB's) that holds no job: the job API's way to say not found."""
        index = next((place for place, key in enumerate(self.job) if key.isdigit()), None)
        return index is not None and _dig(body, self.job[:index]) == []

    def job_of(self, body: Any) -> Optional[Job]:
        """The body's job in the normalised fields; None when the body does not hold one. Its sub-jobs are counted
        whole and read only as far as an answer shows them; its entities without the sub-job list."""
        found = _dig(body, self.job)
        if not isinstance(found, dict):
            return None
        paths = dict(self.fields)
        values = {name: _dig(found, path) for name, path in paths.items()}
        values["status"] = reported_text(values.get("status"))
        values["outcome"] = self.outcome(values["status"]) if values["status"] else None
        values["progress"] = _fraction(values.get("progress"), self.progress_scale)
        listed = values.get("sub_jobs")
        if isinstance(listed, list):
            status_path = dict(self.sub_job).get("status", ())

            def outcome_of(sub: dict[str, Any]) -> Optional[Status]:
                status = reported_text(_dig(sub, status_path)) if status_path else None
                return self.outcome(status) if status else None

            summary = SubJobs.summarise((sub for sub in listed if isinstance(sub, dict)), outcome_of)
            shown = [SubJob.from_fields({**{name: _dig(sub, path) for name, path in self.sub_job},
                                         "outcome": outcome_of(sub)}) for sub in summary.shown]
            values.update(sub_jobs=shown, sub_jobs_done=summary.done, sub_jobs_failed=summary.failed,
                          sub_jobs_total=max(sub_job_count(values.get("sub_jobs_total")) or 0, summary.total))
            if "entities" in paths:
                values["entities"] = _without(values["entities"], paths["entities"], paths["sub_jobs"])
        return Job.from_fields(values)


def _without(tree: Any, root: tuple[str, ...], path: tuple[str, ...]) -> Any:
    """`tree` (the value found at `root`) without what `path` points to below `root`: what another field holds."""
    if path[:len(root)] != root or len(path) == len(root) or not isinstance(tree, dict):
        return tree
    head, rest = path[len(root)], path[len(root) + 1:]
    if not rest:
        return {key: value for key, value in tree.items() if key != head}
    return {**tree, head: _without(tree.get(head), (), rest)} if head in tree else tree


def _fraction(value: Any, scale: str) -> Optional[float]:
    """A progress field as a fraction 0-1: "60%", "60" or 60 in percent, 0.6 as a fraction; None when it says
    nothing ("" when a job is not running, as RDS answers) or is no finite number (NaN, 1e400, 10**400)."""
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # not a number; an integer too large for a float
        return None
    if not math.isfinite(number):
        return None
    return min(1.0, max(0.0, number / 100 if scale == "percent" else number))


def _problem(name: str, key: str, must: str) -> ServiceError:
    return ServiceError(f"service {name!r}: {key} must be {must}")


def _strings(name: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise _problem(name, key, "a list of status values (non-empty strings), at least one")
    return tuple(value)


def _label(name: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 63 or not set(value) <= _LABEL or value[0] == "-":
        raise _problem(name, key, "a host name's first label, such as ecs (lower-case letters, digits, '-')")
    return value


def _field_paths(name: str, key: str, raw: Any, allowed: tuple[str, ...],
                 defaults: Mapping[str, Optional[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(raw, dict):
        raise _problem(name, key, "an object of field paths")
    for field, path in raw.items():
        if field not in allowed:
            raise _problem(name, f"{key}.{field}", f"one of {', '.join(allowed)}")
        if path is not None and not (isinstance(path, str) and path
                                     and all(part.replace("_", "a").isalnum() and part.isascii()
                                             for part in path.split("."))):
            raise _problem(name, f"{key}.{field}", "a dotted path of keys such as job.status, or null")
    merged = {**defaults, **raw}
    return tuple((field, tuple(path.split("."))) for field, path in merged.items() if path is not None)


def _progress_scale(name: str, value: Any) -> str:
    if value not in PROGRESS_SCALES:
        raise _problem(name, "progress_scale", f"one of {', '.join(PROGRESS_SCALES)}")
    return str(value)


def _placeholders_only(name: str, key: str, text: str) -> None:
    remainder = text.replace("{project_id}", "").replace("{job_id}", "")
    if "{" in remainder or "}" in remainder or not set(remainder) <= _PATH_CHARACTERS:
        raise _problem(name, key, "a URL path of letters, digits, '-', '.', '_', '~', '/' and the placeholders"
                                  " {project_id} and {job_id}")


def job_api(name: str, entry: Any) -> JobApi:
    """The JobApi of one entry, checked key by key; ServiceError names the first bad one. Every key is kept."""
    if not isinstance(entry, dict):
        raise ServiceError(f"service {name!r} must be an object with the keys {', '.join(ENTRY_KEYS)}")
    unknown = [key for key in entry if key not in ENTRY_KEYS]
    if unknown:
        raise _problem(name, unknown[0], f"left out: the keys are {', '.join(ENTRY_KEYS)}")
    for key in ("host", "path", "success", "failure"):
        if key not in entry:
            raise _problem(name, key, "given")
    path = entry["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise _problem(name, "path", "a URL path starting with /")
    _placeholders_only(name, "path", path)
    query = entry.get("query", {})
    if not isinstance(query, dict) or not all(isinstance(value, str) for value in query.values()):
        raise _problem(name, "query", "an object of query parameters and their values")
    for parameter, value in query.items():
        if not parameter.replace("_", "a").isalnum() or not parameter.isascii():
            raise _problem(name, f"query.{parameter}", "named with letters, digits or '_'")
        _placeholders_only(name, f"query.{parameter}", value)
    if "{job_id}" not in path + "".join(query.values()):
        raise _problem(name, "path", "where {job_id} goes (in the path or a query value)")
    job = entry.get("job", "")
    if not isinstance(job, str):
        raise _problem(name, "job", "the dotted path of the job object in the body, or \"\" for the body itself")
    source = entry.get("source", "")
    if not isinstance(source, str):
        raise _problem(name, "source", "a text saying where the entry comes from")
    hosts, domains = entry.get("hosts", {}), entry.get("domains", {})
    if not isinstance(hosts, dict) or not isinstance(domains, dict):
        raise _problem(name, "hosts" if not isinstance(hosts, dict) else "domains", "an object keyed by region")
    for region, domain in domains.items():
        if domain not in DOMAINS:
            raise _problem(name, f"domains.{region}", f"one of {', '.join(DOMAINS)}")
    success, failure = _strings(name, "success", entry["success"]), _strings(name, "failure", entry["failure"])
    return JobApi(
        source=source,
        host=_label(name, "host", entry["host"]),
        path=path,
        query=tuple(query.items()),
        job=tuple(part for part in job.split(".") if part),
        fields=_field_paths(name, "fields", entry.get("fields", {}), JOB_FIELDS, {
            **{field: field for field in JOB_FIELDS}, "sub_jobs": None, "sub_jobs_total": None, "progress": None,
            "expected_end_time": None}),
        sub_job=_field_paths(name, "sub_job", entry.get("sub_job", {}), SUB_JOB_FIELDS,
                             {field: field for field in SUB_JOB_FIELDS}),
        progress_scale=_progress_scale(name, entry.get("progress_scale", "percent")),
        success=success,
        failure=failure,
        running=_strings(name, "running", entry.get("running", ["RUNNING"])),
        outcomes=tuple((normal_status(status), outcome) for words, outcome in ((success, Status.SUCCESS),
                                                                             (failure, Status.FAIL))
                       for status in words),
        hosts=tuple((region, _label(name, f"hosts.{region}", host)) for region, host in hosts.items()),
        domains=tuple(domains.items()),
    )


def entries(text: str, where: str) -> dict[str, Any]:
    """The entries of a registry written in JSON, by their names, each still to be checked by job_api; `where`
    names the registry in the ServiceError of one that is not an object of service names."""
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ServiceError(f"{where} is not JSON: {exc}") from None
    except RecursionError:
        raise ServiceError(f"{where} is nested too deeply to be registry entries") from None
    if not isinstance(loaded, dict):
        raise ServiceError(f'{where} must be a JSON object: {{"<name>": {{<entry>}}, ...}}')
    for name in loaded:
        if not valid_service_name(name):
            raise ServiceError(f"{where}: {name!r:.40} is not a service name (1-32 of a-z, 0-9, '-', '_')")
    return loaded


class Registry(Mapping[str, JobApi]):
    """The job APIs by name: `own` ones, already read (a user's, JOBSTEP_SERVICES), then the entries of `entries`,
    read into JobApis on first use, so that a cold start pays for the one job API it queries (the tests read every
    entry), and the aliases of those."""

    def __init__(self, entries: Mapping[str, Any], aliases: Mapping[str, str], own: Mapping[str, JobApi] = {}):
        self._entries, self._aliases, self._own = entries, aliases, own
        self._read: dict[str, JobApi] = {}

    def __getitem__(self, name: str) -> JobApi:
        if name in self._own:
            return self._own[name]
        if name not in self._read:
            entry = self._aliases.get(name, name)
            self._read[name] = job_api(entry, self._entries[entry])
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._own, *self._entries, *self._aliases])

    def __len__(self) -> int:
        return len(self._own) + len(self._entries) + len(self._aliases)

    def with_own(self, own: Mapping[str, JobApi]) -> "Registry":
        """This registry with `own` job APIs first."""
        return Registry(self._entries, self._aliases, own)


with open(os.path.join(os.path.dirname(__file__), "services.json"), encoding="utf-8") as _file:
    BUILT_IN = entries(_file.read(), "services.json")
SERVICES = Registry(BUILT_IN, ALIASES)
