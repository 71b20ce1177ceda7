"""The registry of job APIs, as data: where each service's job query lives, where its answer holds the job and each
of the job's fields, and what its statuses mean. The only way a service name reaches a host and a path.

Each entry has the keys of ENTRY_KEYS; a field path is dotted keys into the answer ("job.status", "jobs.0").
The built-in entries follow each service's official Python SDK (huaweicloudsdk<service> 3.1.219: the call, its
path, its response model and its region table) and its API reference page for the status values; README.md
lists them with their sources. A user's own entries (JOBSTEP_SERVICES) take the same schema and the same checks.
"""

import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple, Optional
from urllib.parse import quote

from .model import Job, Status, sub_job, sub_job_count, summarise, text

DEFAULT_SERVICE = "elb"
# The normalised job fields an entry may map, and those of a sub-job (its entities name its resource: ECS's server_id).
JOB_FIELDS = ("status", "job_id", "job_type", "begin_time", "end_time", "error_code", "fail_reason", "entities",
              "sub_jobs", "sub_jobs_total", "progress", "expected_end_time")
SUB_JOB_FIELDS = ("status", "job_id", "job_type", "error_code", "fail_reason", "entities")
ENTRY_KEYS = ("host", "hosts", "domains", "path", "query", "job", "fields", "sub_job", "progress_scale", "success",
              "failure", "running")
# How an entry's progress field counts: percent (0-100, or a string such as "60%") or a fraction (0-1).
PROGRESS_SCALES = ("percent", "fraction")
# The endpoint's domain; an entry's "domains" names the regions where its SDK's region table says another one
# (eu-west-101 is myhuaweicloud.eu for some services and not others; DWS has regions under myhuaweicloud.cn).
DOMAIN = "myhuaweicloud.com"
DOMAINS = ("myhuaweicloud.com", "myhuaweicloud.eu", "myhuaweicloud.cn")
_EU = {"eu-west-101": "myhuaweicloud.eu"}
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_PATH_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/{}")

_V1_JOBS = "/v1/{project_id}/jobs/{job_id}"
_ECS_LIKE = {"fields": {"sub_jobs": "entities.sub_jobs"}, "success": ["SUCCESS"], "failure": ["FAIL"]}
_ECS_COUNTED = {"sub_jobs": "entities.sub_jobs", "sub_jobs_total": "entities.sub_jobs_total"}
# The database services' shared query: GET /v3/{project_id}/jobs?id={job_id}, the job wrapped in "job".
_DATABASE = {
    "path": "/v3/{project_id}/jobs",
    "query": {"id": "{job_id}"},
    "job": "job",
    "fields": {"job_id": "id", "job_type": "name", "begin_time": "created", "end_time": "ended", "error_code": None,
               "entities": "instance", "progress": "progress"},
    "success": ["Completed"],
    "failure": ["Failed"],
    "running": ["Running"],
}

BUILT_IN: dict[str, dict[str, Any]] = {
    # Classic ELB, the seed API: "Asynchronous Job Query (Discarded)" in the ELB API reference; no SDK call.
    "elb": {"host": "elb", "path": "/v1.0/{project_id}/jobs/{job_id}", "fields": {"sub_jobs": "entities.sub_jobs"},
            "success": ["SUCCESS"], "failure": ["FAIL"], "running": ["RUNNING", "INIT"]},
    # huaweicloudsdkelb v3 show_job; statuses from ListJobs (ShowJob names none): COMPLETE is a success.
    "elbv3": {"host": "elb", "path": "/v3/{project_id}/elb/jobs/{job_id}", "job": "job",
              "fields": {"fail_reason": "error_msg", "entities": None, "sub_jobs": "sub_jobs"},
              "sub_job": {"fail_reason": "error_msg"},
              "success": ["SUCCESS", "COMPLETE"], "failure": ["FAIL", "ROLLBACK_FAIL", "CANCEL"],
              "running": ["INIT", "RUNNING", "ROLLBACKING"]},
    # huaweicloudsdkecs v2 show_job; PENDING_PAYMENT from the API reference (an order awaiting payment).
    "ecs": {**_ECS_LIKE, "host": "ecs", "path": _V1_JOBS, "fields": _ECS_COUNTED,
            "running": ["INIT", "RUNNING", "PENDING_PAYMENT"]},
    # huaweicloudsdkevs v2 show_job; WAITING_EXECUTE and LISTENING from the API reference.
    "evs": {**_ECS_LIKE, "host": "evs", "path": _V1_JOBS,
            "running": ["INIT", "RUNNING", "WAITING_EXECUTE", "LISTENING"]},
    # huaweicloudsdkbms v1 show_job_infos.
    "bms": {**_ECS_LIKE, "host": "bms", "path": _V1_JOBS, "fields": _ECS_COUNTED,
            "running": ["INIT", "RUNNING", "PENDING_PAYMENT"]},
    # huaweicloudsdkims v2 show_job: sub-jobs in entities.sub_jobs_result, progress entities.process_percent, a
    # float whose scale no page states; the API reference's example of a running job shows 0.24: a fraction.
    "ims": {"host": "ims", "path": _V1_JOBS, "progress_scale": "fraction",
            "fields": {"sub_jobs": "entities.sub_jobs_result", "progress": "entities.process_percent"},
            "success": ["SUCCESS"], "failure": ["FAIL"], "running": ["INIT", "RUNNING"]},
    # huaweicloudsdkeip v2 show_resources_job_detail, on the vpc host. Its reference names no statuses; ECS's job
    # API, whose shape this is ("sub-jobs of the same type as the main job"), uses these.
    "eip": {**_ECS_LIKE, "host": "vpc", "path": _V1_JOBS, "running": ["INIT", "RUNNING"]},
    # huaweicloudsdkcce v3 show_job: a Kubernetes-style object, status.phase; sub-jobs of the same shape.
    "cce": {"host": "cce", "path": "/api/v3/projects/{project_id}/jobs/{job_id}", "domains": _EU,
            "fields": {"status": "status.phase", "job_id": "metadata.uid", "job_type": "spec.type",
                       "begin_time": "metadata.creationTimestamp", "end_time": None, "error_code": None,
                       "fail_reason": "status.reason", "entities": None, "sub_jobs": "spec.subJobs"},
            "sub_job": {"status": "status.phase", "job_id": "metadata.uid", "job_type": "spec.type",
                        "error_code": None, "fail_reason": "status.reason", "entities": None},
            "success": ["Success"], "failure": ["Failed"], "running": ["Initializing", "Running"]},
    # huaweicloudsdkrds v3 list_job_info (one job, despite its name): progress is "process".
    "rds": {**_DATABASE, "host": "rds", "domains": _EU,
            "fields": {**_DATABASE["fields"], "entities": "entities", "progress": "process"}},
    # huaweicloudsdkdds v3 show_job_detail.
    "dds": {**_DATABASE, "host": "dds", "domains": _EU},
    # huaweicloudsdkgaussdb v3 show_gauss_my_sql_job_info (TaurusDB); Pending, Canceled, Unauthorized from the
    # API reference. Its host prefix depends on the region (the SDK's region table).
    "gaussdb": {**_DATABASE, "host": "gaussdb",
                "hosts": {
                    **dict.fromkeys(["tr-west-1", "ap-southeast-1", "ap-southeast-2", "cn-north-11", "me-east-1"],
                                    "gaussdbformysql"),
                    **dict.fromkeys(["af-south-1", "cn-east-5", "la-north-2", "cn-southwest-3"], "gaussdb-mysql"),
                },
                "fields": {**_DATABASE["fields"], "entities": "entities", "progress": "process"},
                "failure": ["Failed", "Canceled"], "running": ["Running", "Pending", "Unauthorized"]},
    # huaweicloudsdkgaussdbforopengauss v3 show_job_detail; the host prefix depends on the region.
    "opengauss": {**_DATABASE, "host": "gaussdb-opengauss",
                  "hosts": dict.fromkeys(["cn-east-4", "cn-east-5", "ap-southeast-5", "tr-west-1", "me-east-1",
                                          "af-north-1", "cn-east-2", "cn-north-12"], "gaussdb")},
    # huaweicloudsdkgaussdbfornosql v3 list_jobs (GeminiDB): no single-job call, so the first of a list by id.
    "nosql": {**_DATABASE, "host": "gaussdb-nosql", "job": "jobs.0", "domains": _EU,
              "fields": {**_DATABASE["fields"], "begin_time": "start_time", "end_time": "end_time"}},
    # huaweicloudsdkdcs v2 show_job_info: flat; times in epoch milliseconds.
    "dcs": {"host": "dcs", "path": "/v2/{project_id}/jobs/{job_id}",
            "fields": {"error_code": None, "entities": None},
            "success": ["SUCCESS"], "failure": ["FAIL"], "running": ["INIT", "RUNNING"]},
    # huaweicloudsdkdws v2 list_job_details; STOP ends a job that did not succeed.
    "dws": {"host": "dws", "path": "/v1.0/{project_id}/job/{job_id}",
            "domains": {**_EU, **dict.fromkeys(["cn-south-4", "cn-north-12", "cn-east-4", "tr-west-1",
                                                "ap-southeast-4"], "myhuaweicloud.cn")},
            "fields": {"job_type": "job_name", "error_code": "failed_code", "fail_reason": "failed_detail",
                       "entities": None, "progress": "progress"},
            "success": ["SUCCESS"], "failure": ["FAIL", "STOP"], "running": ["INIT", "WAITING", "RUNNING",
                                                                            "DELAY_SCHEDULED"]},
    # huaweicloudsdksfsturbo v1 show_job_detail.
    "sfsturbo": {"host": "sfs-turbo", "path": "/v1/{project_id}/sfs-turbo/jobs/{job_id}", "domains": _EU,
                 "fields": {"entities": None, "sub_jobs": "sub_jobs"}, "sub_job": {"entities": None},
                 "success": ["success"], "failure": ["failed"], "running": ["waiting", "running"]},
    # huaweicloudsdkddm v1 show_ddm_job_result.
    "ddm": {**_DATABASE, "host": "ddm", "path": "/v3/{project_id}/jobs/{job_id}", "query": {}, "domains": _EU,
            "fields": {**_DATABASE["fields"], "begin_time": "created_time", "end_time": "end_time",
                       "fail_reason": None, "progress": "process"}},
    # huaweicloudsdkcph v1 show_job: the status is a number (1 running, 2 success, -1 failure).
    "cph": {"host": "cph", "path": "/v1/{project_id}/cloud-phone/jobs/{job_id}",
            "fields": {"job_type": None, "fail_reason": "error_msg", "entities": None},
            "success": ["2"], "failure": ["-1"], "running": ["1"]},
    # huaweicloudsdkcbr v1 show_op_log: an operation log is CBR's job; statuses from the SDK's enum (Java).
    "cbr": {"host": "cbr", "path": "/v3/{project_id}/operation-logs/{job_id}", "job": "operation_log",
            "fields": {"job_id": "id", "job_type": "operation_type", "begin_time": "started_at",
                       "end_time": "ended_at", "error_code": "error_info.code", "fail_reason": "error_info.message",
                       "entities": "extra_info", "progress": "extra_info.common.progress"},
            "success": ["success"], "failure": ["failed", "timeout", "skipped"], "running": ["waiting", "running"]},
}
# The name the registry had for EIP's job API before it was found to be EIP's: kept, so that loops go on.
ALIASES = {"vpc": "eip"}


class ServiceError(ValueError):
    """An entry does not fit the schema; the message names the entry and the key."""


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
    """One job API, read from its entry."""

    host: str
    path: str
    query: tuple[tuple[str, str], ...]
    job: tuple[str, ...]  # where the job object sits in the answer
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # normalised name, path in the job object (absent: unmapped)
    sub_job: tuple[tuple[str, tuple[str, ...]], ...]
    progress_scale: str
    outcomes: tuple[tuple[str, str], ...]  # normalised status, Status.SUCCESS / FAIL (running ones are absent)
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

    def outcome(self, status: str) -> Optional[str]:
        """SUCCESS or FAIL when `status` ends the job, by this API's own words; None while it runs (or is unknown)."""
        return dict(self.outcomes).get(status.strip().upper())

    def lists_no_job(self, answer: Any) -> bool:
        """Whether the answer is a list by id (GeminiDB's) that holds no job: the job API's way to say not found."""
        index = next((place for place, key in enumerate(self.job) if key.isdigit()), None)
        return index is not None and _dig(answer, self.job[:index]) == []

    def job_of(self, answer: Any) -> Optional[Job]:
        """The answer's job in the normalised fields; None when the answer does not hold one. Its sub-jobs are
        counted whole and read only as far as an answer shows them; its entities without the sub-job list."""
        found = _dig(answer, self.job)
        if not isinstance(found, dict):
            return None
        paths = dict(self.fields)
        values = {name: _dig(found, path) for name, path in paths.items()}
        values["status"] = text(values.get("status"))
        values["outcome"] = self.outcome(values["status"]) if values["status"] else None
        values["progress"] = _fraction(values.get("progress"), self.progress_scale)
        listed = values.get("sub_jobs")
        if isinstance(listed, list):
            status_path = dict(self.sub_job).get("status", ())

            def outcome_of(sub: dict[str, Any]) -> Optional[str]:
                status = text(_dig(sub, status_path)) if status_path else None
                return self.outcome(status) if status else None

            shown, count, done, failed = summarise((sub for sub in listed if isinstance(sub, dict)), outcome_of)
            values.update(sub_jobs=[sub_job({**{name: _dig(sub, path) for name, path in self.sub_job},
                                             "outcome": outcome_of(sub)}) for sub in shown],
                          sub_jobs_total=max(sub_job_count(values.get("sub_jobs_total")) or 0, count),
                          sub_jobs_done=done, sub_jobs_failed=failed)
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


def _strings(name: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item.strip() for item in value):
        raise _problem(name, key, "a list of status values (non-empty strings), at least one")
    return value


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
    return value


def _placeholders_only(name: str, key: str, text: str) -> None:
    remainder = text.replace("{project_id}", "").replace("{job_id}", "")
    if "{" in remainder or "}" in remainder or not set(remainder) <= _PATH_CHARACTERS:
        raise _problem(name, key, "a URL path of letters, digits, '-', '.', '_', '~', '/' and the placeholders"
                                  " {project_id} and {job_id}")


def job_api(name: str, entry: Any) -> JobApi:
    """The JobApi of one entry, checked key by key; ServiceError names the first bad one."""
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
        raise _problem(name, "job", "the dotted path of the job object in the answer, or \"\" for the answer itself")
    hosts, domains = entry.get("hosts", {}), entry.get("domains", {})
    if not isinstance(hosts, dict) or not isinstance(domains, dict):
        raise _problem(name, "hosts" if not isinstance(hosts, dict) else "domains", "an object keyed by region")
    for region, domain in domains.items():
        if domain not in DOMAINS:
            raise _problem(name, f"domains.{region}", f"one of {', '.join(DOMAINS)}")
    outcomes = {}
    for key, outcome in (("success", Status.SUCCESS.value), ("failure", Status.FAIL.value)):
        outcomes.update({status.strip().upper(): outcome for status in _strings(name, key, entry[key])})
    _strings(name, "running", entry.get("running", ["RUNNING"]))
    return JobApi(
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
        outcomes=tuple(outcomes.items()),
        hosts=tuple((region, _label(name, f"hosts.{region}", host)) for region, host in hosts.items()),
        domains=tuple(domains.items()),
    )


class Registry(Mapping[str, JobApi]):
    """Entries read into JobApis on first use, so that a cold start pays for the one job API it queries; the
    tests read every entry."""

    def __init__(self, entries: Mapping[str, Any], aliases: Mapping[str, str]):
        self._entries, self._aliases = entries, aliases
        self._read: dict[str, JobApi] = {}

    def __getitem__(self, name: str) -> JobApi:
        if name not in self._read:
            entry = self._aliases.get(name, name)
            self._read[name] = job_api(entry, self._entries[entry])
        return self._read[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._entries, *self._aliases])

    def __len__(self) -> int:
        return len(self._entries) + len(self._aliases)


SERVICES: Mapping[str, JobApi] = Registry(BUILT_IN, ALIASES)
