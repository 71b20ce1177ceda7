"""Every job API of the registry, proven against the official SDK (huaweicloudsdk<service>, test-only):

- the answers served are built from the SDK's response model (a key the model does not define fails the build),
  with the status words of the service's API reference: running, then success, or failure with its reason and,
  where the model has sub-jobs, a failed sub-job;
- jobstep must request exactly the path and query of the SDK's own call (its `_<call>_http_info`), signed;
- every field path the registry reads must exist in the SDK's response model;
- the regional endpoint must be the SDK's region table's, region by region;
- the begin time, in the service's own format, must become a stateless call's deadline start.

Classic ELB (v1.0) has no SDK call: its answers are the API reference's example shape.
"""

import importlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, NamedTuple, Optional

import pytest
from helpers import PROJECT, README, START, sample_event
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from jobstep.services import ALIASES, BUILT_IN, SERVICES

JOB = "job-1"
BEGUN = datetime.fromtimestamp(START - 7200, timezone.utc)  # two hours before the simulated now


# The time formats the services use (their API references' examples).
def iso_ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def offset_0800(moment: datetime) -> str:  # RDS and its kin: "2018-08-06T10:41:14+0800"
    return moment.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%dT%H:%M:%S%z")


def go_time(moment: datetime) -> str:  # CCE: Go's time.String(), "2018-08-02 08:12:40.672772389 +0000 UTC"
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond:06d}389 +0000 UTC"


def epoch_ms(moment: datetime) -> str:  # DCS: "1684191545379"
    return str(int(moment.timestamp() * 1000))


def space_utc(moment: datetime) -> str:  # SFS Turbo: "2016-01-02 15:04:05", UTC
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Sdk(NamedTuple):
    package: str  # e.g. huaweicloudsdkecs.v2
    client: str
    call: str
    request: str
    id_field: str  # the request's job id field
    response: str
    region: str  # the region table's class, in <package>.region


class Case(NamedTuple):
    sdk: Optional[Sdk]  # None: no SDK call (classic ELB)
    time: Callable[[datetime], str]
    running: dict[str, Any]  # an answer, in the response model's JSON names; "<begun>" is replaced by the time
    success: dict[str, Any]
    failure: dict[str, Any]
    reason: str  # in the failure's message
    failed_sub_job: Optional[str] = None  # its id, in the failure's message


def flat(status: str, **more: Any) -> dict[str, Any]:
    return {"status": status, "job_id": JOB, "job_type": "createThing", "begin_time": "<begun>", **more}


def sub_job(status: str, job_id: str, **more: Any) -> dict[str, Any]:
    return {"status": status, "job_id": job_id, "job_type": "createOne", **more}


def database(status: str, wrapped: str = "job", progress: str = "progress", **more: Any) -> dict[str, Any]:
    job = {"id": JOB, "name": "CreateInstance", "status": status, "created": "<begun>",
           "instance": {"id": "i-1", "name": "db-1"}, **more}
    if status == "Running":
        job[progress] = "60%"
    return {wrapped: job}


ECS_FAILED_SUBS = {"sub_jobs_total": 2, "sub_jobs": [
    sub_job("SUCCESS", "sub-1"), sub_job("FAIL", "sub-2", error_code="Ecs.0013", fail_reason="insufficient EIP quota")]}

CASES: dict[str, Case] = {
    "elb": Case(None, iso_ms, flat("RUNNING", entities={"elb_id": "e-1"}, end_time=""),
                flat("SUCCESS", entities={"elb_id": "e-1"}), flat("FAIL", error_code="ELB.8905",
                                                                   fail_reason="listener still has backends"),
                "listener still has backends"),
    "elbv3": Case(Sdk("huaweicloudsdkelb.v3", "ElbClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                      "elb_region.ElbRegion"), iso_z,
                  {"job": flat("RUNNING", project_id=PROJECT, resource_id="lb-1", error_code="", error_msg="")},
                  {"job": flat("COMPLETE", project_id=PROJECT, resource_id="lb-1")},
                  {"job": flat("ROLLBACK_FAIL", error_code="ELB.8902", error_msg="member still bound", sub_jobs=[
                      sub_job("FAIL", "sub-2", error_code="ELB.1001", error_msg="listener busy",
                              entities=[{"resource_id": "l-1", "resource_type": "listener"}])])},
                  "member still bound", "sub-2"),
    "ecs": Case(Sdk("huaweicloudsdkecs.v2", "EcsClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                    "ecs_region.EcsRegion"), iso_ms,
                flat("RUNNING", entities={"server_id": "s-1"}), flat("SUCCESS", entities={"server_id": "s-1"}),
                flat("FAIL", fail_reason="quota exceeded", entities=ECS_FAILED_SUBS), "quota exceeded", "sub-2"),
    "evs": Case(Sdk("huaweicloudsdkevs.v2", "EvsClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                    "evs_region.EvsRegion"), iso_ms,
                flat("WAITING_EXECUTE"), flat("SUCCESS", entities={"volume_id": "v-1"}),
                flat("FAIL", error_code="EVS.2024", fail_reason="no capacity", entities={"sub_jobs": [
                    sub_job("FAIL", "sub-3", error_code="EVS.2024", fail_reason="no capacity")]}), "no capacity",
                "sub-3"),
    "bms": Case(Sdk("huaweicloudsdkbms.v1", "BmsClient", "show_job_infos", "ShowJobInfosRequest", "job_id",
                    "ShowJobInfosResponse", "bms_region.BmsRegion"), iso_ms,
                flat("PENDING_PAYMENT"), flat("SUCCESS", entities={"server_id": "b-1", "sub_jobs_total": 0}),
                flat("FAIL", fail_reason="flavor sold out", entities={"sub_jobs_total": 1, "sub_jobs": [
                    sub_job("FAIL", "sub-4", fail_reason="flavor sold out")]}), "flavor sold out", "sub-4"),
    "ims": Case(Sdk("huaweicloudsdkims.v2", "ImsClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                    "ims_region.ImsRegion"), iso_ms,
                flat("RUNNING", entities={"process_percent": 0.24, "image_id": "img-1"}),
                flat("SUCCESS", entities={"image_id": "img-1"}),
                flat("FAIL", error_code="IMS.0192", fail_reason="disk too large", entities={"sub_jobs_result": [
                    sub_job("FAIL", "sub-5", fail_reason="disk too large")]}), "disk too large", "sub-5"),
    "eip": Case(Sdk("huaweicloudsdkeip.v2", "EipClient", "show_resources_job_detail", "ShowResourcesJobDetailRequest",
                    "job_id", "ShowResourcesJobDetailResponse", "eip_region.EipRegion"), iso_ms,
                flat("RUNNING", entities={"sub_jobs": []}), flat("SUCCESS", entities={"sub_jobs": []}),
                flat("FAIL", fail_reason="EIP quota", entities={"sub_jobs": [
                    sub_job("FAIL", "sub-6", fail_reason="EIP quota")]}), "EIP quota", "sub-6"),
    "cce": Case(Sdk("huaweicloudsdkcce.v3", "CceClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                    "cce_region.CceRegion"), go_time,
                {"kind": "Job", "apiVersion": "v3", "metadata": {"uid": JOB, "creationTimestamp": "<begun>"},
                 "spec": {"type": "CreateCluster", "subJobs": [
                     {"metadata": {"uid": "sub-7"}, "spec": {"type": "CreateMaster"}, "status": {"phase": "Success"}}]},
                 "status": {"phase": "Running", "reason": ""}},
                {"kind": "Job", "metadata": {"uid": JOB, "creationTimestamp": "<begun>"},
                 "spec": {"type": "CreateCluster"}, "status": {"phase": "Success"}},
                {"kind": "Job", "metadata": {"uid": JOB, "creationTimestamp": "<begun>"},
                 "spec": {"type": "CreateCluster", "subJobs": [
                     {"metadata": {"uid": "sub-7"}, "spec": {"type": "CreateMaster"},
                      "status": {"phase": "Failed", "reason": "subnet has no free address"}}]},
                 "status": {"phase": "Failed", "reason": "cluster creation failed"}},
                "cluster creation failed", "sub-7"),
    "rds": Case(Sdk("huaweicloudsdkrds.v3", "RdsClient", "list_job_info", "ListJobInfoRequest", "id",
                    "ListJobInfoResponse", "rds_region.RdsRegion"), offset_0800,
                database("Running", progress="process", entities={"resource_ids": ["i-1"]}),
                database("Completed", ended="<begun>"),
                database("Failed", fail_reason="the flavor is sold out"), "the flavor is sold out"),
    "dds": Case(Sdk("huaweicloudsdkdds.v3", "DdsClient", "show_job_detail", "ShowJobDetailRequest", "id",
                    "ShowJobDetailResponse", "dds_region.DdsRegion"), offset_0800,
                database("Running"), database("Completed"), database("Failed", fail_reason="no subnet"), "no subnet"),
    "gaussdb": Case(Sdk("huaweicloudsdkgaussdb.v3", "GaussDBClient", "show_gauss_my_sql_job_info",
                        "ShowGaussMySqlJobInfoRequest", "id", "ShowGaussMySqlJobInfoResponse",
                        "gaussdb_region.GaussDBRegion"), offset_0800,
                    database("Pending", progress="process"), database("Completed"),
                    database("Failed", fail_reason="quota"), "quota"),
    "opengauss": Case(Sdk("huaweicloudsdkgaussdbforopengauss.v3", "GaussDBforopenGaussClient", "show_job_detail",
                          "ShowJobDetailRequest", "id", "ShowJobDetailResponse",
                          "gaussdbforopengauss_region.GaussDBforopenGaussRegion"), offset_0800,
                      database("Running"), database("Completed"), database("Failed", fail_reason="no flavor"),
                      "no flavor"),
    "nosql": Case(Sdk("huaweicloudsdkgaussdbfornosql.v3", "GaussDBforNoSQLClient", "list_jobs", "ListJobsRequest",
                      "id", "ListJobsResponse", "gaussdbfornosql_region.GaussDBforNoSQLRegion"), offset_0800,
                  {"jobs": [{"id": JOB, "name": "CreateInstance", "status": "Running", "start_time": "<begun>",
                             "progress": "60%"}], "total_count": 1},
                  {"jobs": [{"id": JOB, "name": "CreateInstance", "status": "Completed", "start_time": "<begun>"}],
                   "total_count": 1},
                  {"jobs": [{"id": JOB, "status": "Failed", "start_time": "<begun>", "fail_reason": "disk full"}],
                   "total_count": 1}, "disk full"),
    "dcs": Case(Sdk("huaweicloudsdkdcs.v2", "DcsClient", "show_job_info", "ShowJobInfoRequest", "job_id",
                    "ShowJobInfoResponse", "dcs_region.DcsRegion"), epoch_ms,
                flat("INIT"), flat("SUCCESS", end_time="<begun>"), flat("FAIL", fail_reason="memory full"),
                "memory full"),
    "dws": Case(Sdk("huaweicloudsdkdws.v2", "DwsClient", "list_job_details", "ListJobDetailsRequest", "job_id",
                    "ListJobDetailsResponse", "dws_region.DwsRegion"), iso_z,
                {"job_id": JOB, "job_name": "CreateCluster", "status": "DELAY_SCHEDULED", "begin_time": "<begun>",
                 "progress": "10%"},
                {"job_id": JOB, "job_name": "CreateCluster", "status": "SUCCESS", "begin_time": "<begun>"},
                {"job_id": JOB, "status": "STOP", "begin_time": "<begun>", "failed_code": "DWS.0001",
                 "failed_detail": "stopped by the administrator"}, "stopped by the administrator"),
    "sfsturbo": Case(Sdk("huaweicloudsdksfsturbo.v1", "SFSTurboClient", "show_job_detail", "ShowJobDetailRequest",
                         "job_id", "ShowJobDetailResponse", "sfsturbo_region.SFSTurboRegion"), space_utc,
                     flat("waiting"), flat("success"),
                     flat("failed", fail_reason="share quota", sub_jobs=[
                         sub_job("failed", "sub-8", fail_reason="share quota")]), "share quota", "sub-8"),
    "ddm": Case(Sdk("huaweicloudsdkddm.v1", "DdmClient", "show_ddm_job_result", "ShowDdmJobResultRequest", "job_id",
                    "ShowDdmJobResultResponse", "ddm_region.DdmRegion"), offset_0800,
                {"job": {"id": JOB, "name": "CreateInstance", "status": "Running", "created_time": "<begun>",
                         "process": "60%"}},
                {"job": {"id": JOB, "name": "CreateInstance", "status": "Completed", "created_time": "<begun>"}},
                {"job": {"id": JOB, "name": "CreateInstance", "status": "Failed", "created_time": "<begun>"}},
                "The job (CreateInstance) failed"),
    "cph": Case(Sdk("huaweicloudsdkcph.v1", "CphClient", "show_job", "ShowJobRequest", "job_id", "ShowJobResponse",
                    "cph_region.CphRegion"), iso_z,
                {"job_id": JOB, "status": 1, "begin_time": "<begun>"},
                {"job_id": JOB, "status": 2, "begin_time": "<begun>"},
                {"job_id": JOB, "status": -1, "begin_time": "<begun>", "error_code": "CPS.0010",
                 "error_msg": "phone image missing"}, "phone image missing"),
    "cbr": Case(Sdk("huaweicloudsdkcbr.v1", "CbrClient", "show_op_log", "ShowOpLogRequest", "operation_log_id",
                    "ShowOpLogResponse", "cbr_region.CbrRegion"), iso_z,
                {"operation_log": {"id": JOB, "operation_type": "backup", "status": "running",
                                   "started_at": "<begun>", "extra_info": {"common": {"progress": 40}}}},
                {"operation_log": {"id": JOB, "operation_type": "backup", "status": "success",
                                   "started_at": "<begun>"}},
                {"operation_log": {"id": JOB, "operation_type": "backup", "status": "timeout",
                                   "started_at": "<begun>", "error_info": {"code": "BackupService.6302",
                                                                           "message": "the backup timed out"}}},
                "the backup timed out"),
}


def sdk_module(sdk: Sdk) -> Any:
    return importlib.import_module(sdk.package)


def build(module: Any, kind: str, data: Any) -> Any:
    """The SDK model `kind` holding `data` (JSON names); a key the model does not define fails the test."""
    if data is None:
        return None
    if kind.startswith("list["):
        return [build(module, kind[5:-1], item) for item in data]
    if kind in ("str", "int", "float", "bool", "object") or kind.startswith("dict("):
        return data
    cls = getattr(module, kind)
    attributes = {json_name: attribute for attribute, json_name in cls.attribute_map.items()}
    unknown = set(data) - set(attributes)
    assert not unknown, f"the SDK's {kind} has no field {unknown}"
    return cls(**{attributes[key]: build(module, cls.openapi_types[attributes[key]], value)
                  for key, value in data.items()})


def with_time(data: Any, stamp: str) -> Any:
    if data == "<begun>":
        return stamp
    if isinstance(data, dict):
        return {key: with_time(value, stamp) for key, value in data.items()}
    if isinstance(data, list):
        return [with_time(item, stamp) for item in data]
    return data


def answer(case: Case, data: dict[str, Any]) -> Any:
    """The JSON the job API answers: built through the SDK's response model, written out as the SDK writes it."""
    data = with_time(data, case.time(BEGUN))
    if case.sdk is None:
        return data
    return sanitize_for_serialization(build(sdk_module(case.sdk), case.sdk.response, data))


def sdk_target(case: Case, job_id: str) -> str:
    """The path and query of the SDK's own call for this job."""
    module = sdk_module(case.sdk)
    request = getattr(module, case.sdk.request)(**{case.sdk.id_field: job_id})
    info = getattr(getattr(module, case.sdk.client), f"_{case.sdk.call}_http_info")(request)
    path = info["resource_path"].replace("{project_id}", PROJECT)
    for name, value in info["path_params"].items():
        path = path.replace("{" + name + "}", value)
    query = "&".join(f"{name}={value}" for name, value in info["query_params"] if value is not None)
    return path + (f"?{query}" if query else "")


def test_the_registry_is_every_service_proven_here():
    assert set(BUILT_IN) == set(CASES) and len(BUILT_IN) >= 15
    assert all(SERVICES[alias] == SERVICES[name] for alias, name in ALIASES.items())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_service_is_queried_at_its_sdk_path_and_its_answers_normalised(harness, name):
    # Catches: a wrong path or query (the SDK's target differs), a status word or field path that is not the
    # service's (the running answer ends, the failure loses its reason, or the failed sub-job is missing).
    case = CASES[name]
    answers = {"INIT": answer(case, case.running), "RUNNING": answer(case, case.running)}
    ended = []
    for outcome in ("success", "failure"):
        job_id = f"{JOB}-{outcome}"
        harness.simulator.add_job(job_id, service=name, init_seconds=0, run_seconds=30,
                                  answers={**answers, "ENDED": answer(case, getattr(case, outcome))})
        running = harness.call({"job_id": job_id, "service": name})
        harness.clock.advance(60)
        ended.append(harness.call(running))
        if case.sdk is not None:
            assert harness.simulator.seen[-1].target == sdk_target(case, job_id)
        assert {seen.verdict for seen in harness.simulator.seen} == {None}  # every request signed as it is sent
        assert not running["done"] and running["error"] is None and running["status"] != "UNKNOWN"
        assert running["job"]["status"].strip().upper() == running["status"] and running["job"]["outcome"] is None
    success, failure = ended
    assert success["done"] and success["status"] == "SUCCESS" and success["job"]["outcome"] == "SUCCESS"
    assert failure["done"] and failure["status"] == "FAIL" and failure["job"]["outcome"] == "FAIL"
    assert case.reason in failure["error"]["message"]
    if case.failed_sub_job:
        assert f"Sub-job {case.failed_sub_job} failed" in failure["error"]["message"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stateless_call_counts_the_deadline_from_the_services_own_begin_time(harness, name):
    # Catches: a time format of a service that parse_time does not read (the deadline would start now).
    case = CASES[name]
    harness.simulator.add_job(JOB, service=name, init_seconds=0, run_seconds=10**9,
                              answers={"RUNNING": answer(case, case.running)})
    event = sample_event("timer", user_event=json.dumps({"job_id": JOB, "service": name}))

    result = harness.call(event)

    assert result["done"] and result["status"] == "TIMEOUT"
    assert result["poll"]["started_at"] == BEGUN.strftime("%Y-%m-%dT%H:%M:%SZ")


def model_kind(module: Any, kind: str, path: tuple[str, ...]) -> Optional[str]:
    """The SDK type at `path` below `kind`; None when the model has no such field. Untyped objects end the walk."""
    for segment in path:
        if kind == "object" or kind.startswith("dict("):
            return kind
        if kind.startswith("list["):
            if not segment.isdigit():
                return None
            kind = kind[5:-1]
            continue
        cls = getattr(module, kind, None)
        attributes = {json_name: attribute for attribute, json_name in getattr(cls, "attribute_map", {}).items()}
        if segment not in attributes:
            return None
        kind = cls.openapi_types[attributes[segment]]
    return kind


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if case.sdk))
def test_every_field_the_registry_reads_is_in_the_sdks_response_model(name):
    # Catches: a field path that no answer of this service can hold (a typo, another service's name).
    sdk, api = CASES[name].sdk, SERVICES[name]
    module = sdk_module(sdk)
    job = model_kind(module, sdk.response, api.job)
    assert job is not None, f"{name}: no job object at {api.job}"
    for field, path in api.fields:
        kind = model_kind(module, job, path)
        assert kind is not None, f"{name}: the SDK's model has no {'.'.join(path)} for {field}"
        if field == "sub_jobs" and kind.startswith("list["):
            for _, sub_path in api.sub_job:
                assert model_kind(module, kind[5:-1], sub_path), f"{name}: no sub-job {'.'.join(sub_path)}"


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if case.sdk))
def test_the_regional_endpoint_is_the_sdks_region_tables(name):
    # Catches: a host prefix or domain that is not the one the SDK calls in some region.
    sdk = CASES[name].sdk
    table_module, table_class = f"{sdk.package}.region.{sdk.region}".rsplit(".", 1)
    regions = getattr(importlib.import_module(table_module), table_class).static_fields

    for region, entry in regions.items():
        assert SERVICES[name].regional_endpoint(region) == entry.endpoints[0], region


def test_an_empty_list_by_id_is_a_job_not_found(harness):
    # GeminiDB has no single-job call: its list by id, empty, is how it says the job does not exist.
    # Catches: an empty list taken for a bad answer (retried as transient until max_wait).
    empty = answer(CASES["nosql"], {"jobs": [], "total_count": 0})
    harness.simulator.add_job(JOB, service="nosql", answers={"INIT": empty, "RUNNING": empty, "ENDED": empty})

    within = harness.call({"job_id": JOB, "service": "nosql"})
    harness.clock.advance(61)
    after = harness.call(within)

    assert not within["done"] and within["error"]["type"] == "not_found" and within["error"]["retryable"]
    assert after["done"] and after["error"]["type"] == "not_found" and "lists no job" in after["error"]["message"]




def subs(*statuses: str) -> list[dict[str, Any]]:
    """Sub-jobs in ECS's shape, with these statuses."""
    return [sub_job(status, f"sub-{number}") for number, status in enumerate(statuses)]


def cce_subs(*phases: str) -> list[dict[str, Any]]:
    return [{"metadata": {"uid": f"sub-{number}"}, "spec": {"type": "CreateMaster"}, "status": {"phase": phase}}
            for number, phase in enumerate(phases)]


class Shown(NamedTuple):
    """A running answer that says how far the job is, and what `progress` must then say."""

    running: dict[str, Any]
    fraction: float
    source: str
    sub_jobs: Optional[tuple[int, int, int]] = None  # done, failed, all


# Percents as the references give them ("60%", or CBR's integer); sub-jobs done, failed and running.
PROGRESS: dict[str, Shown] = {
    "elb": Shown(flat("RUNNING", entities={"sub_jobs": subs("RUNNING", "SUCCESS")}), 0.5, "sub_jobs",
                 (1, 0, 2)),
    "elbv3": Shown({"job": flat("RUNNING", sub_jobs=subs("INIT", "SUCCESS", "FAIL"))}, 2 / 3,
                   "sub_jobs", (2, 1, 3)),
    "ecs": Shown(flat("RUNNING", entities={"sub_jobs_total": 4, "sub_jobs": subs("RUNNING", "SUCCESS", "FAIL")}),
                 0.5, "sub_jobs", (2, 1, 4)),
    "evs": Shown(flat("RUNNING", entities={"sub_jobs": subs("RUNNING", "SUCCESS", "SUCCESS", "SUCCESS")}), 0.75,
                 "sub_jobs", (3, 0, 4)),
    "bms": Shown(flat("RUNNING", entities={"sub_jobs_total": 5, "sub_jobs": subs("RUNNING", "SUCCESS")}), 0.2,
                 "sub_jobs", (1, 0, 5)),
    "ims": Shown(flat("RUNNING", entities={"process_percent": 0.24, "sub_jobs_result": subs("RUNNING")}), 0.24,
                 "percent", (0, 0, 1)),
    "eip": Shown(flat("RUNNING", entities={"sub_jobs": subs("RUNNING", "SUCCESS")}), 0.5, "sub_jobs", (1, 0, 2)),
    "cce": Shown({"kind": "Job", "metadata": {"uid": JOB, "creationTimestamp": "<begun>"},
                  "spec": {"type": "CreateCluster", "subJobs": cce_subs("Success", "Running", "Initializing")},
                  "status": {"phase": "Running"}}, 1 / 3, "sub_jobs", (1, 0, 3)),
    "rds": Shown(database("Running", progress="process"), 0.6, "percent"),
    "dds": Shown(database("Running"), 0.6, "percent"),
    "gaussdb": Shown(database("Running", progress="process"), 0.6, "percent"),
    "opengauss": Shown(database("Running"), 0.6, "percent"),
    "nosql": Shown(CASES["nosql"].running, 0.6, "percent"),
    "dws": Shown(CASES["dws"].running, 0.1, "percent"),
    "sfsturbo": Shown(flat("running", sub_jobs=subs("running", "success", "failed", "success")), 0.75,
                      "sub_jobs", (3, 1, 4)),
    "ddm": Shown(CASES["ddm"].running, 0.6, "percent"),
    "cbr": Shown(CASES["cbr"].running, 0.4, "percent"),
}
# The SDK models' fields that say how far a job is: a percent, or a list of sub-jobs.
PROGRESS_FIELDS = {"progress", "process", "process_percent", "sub_jobs", "subJobs", "sub_jobs_result"}


def progress_fields(module: Any, kind: str, depth: int = 4) -> set[str]:
    """The progress fields anywhere in the SDK model `kind` (a few levels down)."""
    kind = kind[5:-1] if kind.startswith("list[") else kind
    cls = getattr(module, kind, None)
    if depth == 0 or cls is None or not hasattr(cls, "attribute_map"):
        return set()
    found = set()
    for attribute, json_name in cls.attribute_map.items():
        if json_name in PROGRESS_FIELDS:
            found.add(json_name)
        found |= progress_fields(module, cls.openapi_types[attribute], depth - 1)
    return found


def test_every_service_whose_sdk_model_says_how_far_a_job_is_reports_progress():
    # Catches: a service whose answers carry a percent or sub-jobs while the registry reads neither (its loops
    # would poll blind and show nothing). Classic ELB has no SDK: its reference's example lists sub-jobs.
    reporting = {name for name, case in CASES.items()
                 if case.sdk and progress_fields(sdk_module(case.sdk), case.sdk.response)}

    assert set(PROGRESS) == reporting | {"elb"}


@pytest.mark.parametrize("name", sorted(PROGRESS))
def test_a_running_job_shows_how_far_it_is_in_its_services_own_terms(harness, name):
    # Catches: a percent read on the wrong scale (IMS's fraction taken for a percent, "60%" unparsed), a sub-job
    # counted done while it runs, a failed one not counted, or a progress field path that is not the service's.
    shown = PROGRESS[name]
    served = answer(CASES[name], shown.running)
    harness.simulator.add_job(JOB, service=name, init_seconds=0, run_seconds=10**6,
                              answers={"RUNNING": served})

    result = harness.call({"job_id": JOB, "service": name})

    assert not result["done"] and result["error"] is None
    progress = result["progress"]
    assert progress["fraction"] == pytest.approx(shown.fraction, abs=1e-4) and progress["source"] == shown.source
    expected_counts = dict(zip(("done", "failed", "total"), shown.sub_jobs)) if shown.sub_jobs else None
    assert progress["sub_jobs"] == expected_counts


@pytest.mark.parametrize("name", sorted(set(CASES) - set(PROGRESS)))
def test_a_service_that_says_nothing_of_progress_shows_none(harness, name):
    # Catches: a progress invented from nothing (a status word or a time taken for a percent).
    harness.simulator.add_job(JOB, service=name, init_seconds=0, run_seconds=10**6,
                              answers={"RUNNING": answer(CASES[name], CASES[name].running)})

    result = harness.call({"job_id": JOB, "service": name})

    assert not result["done"] and result["progress"] is None


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_the_readme_table_says_what_the_registry_holds(name):
    # Catches: a README that drifts from the registry (a path or a status word changed in one place only).
    entry = BUILT_IN[name]
    row = next(line for line in README.splitlines() if line.startswith(f"| `{name}`"))
    path = entry["path"] + "".join(f"?{key}={value}" for key, value in entry.get("query", {}).items())
    assert f"`{path}`" in row
    for status in entry["success"] + entry["failure"] + entry["running"]:
        assert status in row, status


@pytest.mark.parametrize("status", ["ROLLBACK_FAIL", "CANCEL"])
def test_elb_v3_rollback_failure_and_cancel_end_the_loop_at_once_with_the_reason(harness, status):
    # Catches: a terminal ELB v3 status polled as running until max_wait (the issue that started the registry).
    failed = answer(CASES["elbv3"], {"job": flat(status, error_code="ELB.8904", error_msg="upgrade was cancelled")})
    harness.simulator.add_job(JOB, service="elbv3", init_seconds=0, run_seconds=0, answers={"ENDED": failed})

    result = harness.call({"job_id": JOB, "service": "elbv3"})

    assert result["done"] and result["status"] == "FAIL" and result["job"]["status"] == status
    assert "ELB.8904: upgrade was cancelled" in result["error"]["message"] and result["poll"]["attempt"] == 1
