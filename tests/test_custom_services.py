"""A user's own job API, without code: an entry in JOBSTEP_SERVICES (inline JSON, or a file of the code package)
in the built-in entries' schema, checked at start-up with an error that names the bad key. Nothing in an event
chooses a host or a path."""

import json
from collections import ChainMap

import pytest
from helpers import PROJECT, RUNNING_FOREVER, START, TEMP_AK, TEMP_SK, TOKEN, agency
from jobstep.client import new_session
from jobstep.config import custom_services
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle, read_code_file
from jobstep_tools.local import Clock
from jobstep_tools.simulator import JobSimulator

ENTRY = {
    "host": "myapi",
    "path": "/v2/{project_id}/pipelines/runs/{job_id}",
    "job": "run",
    "fields": {"status": "state", "job_id": "id", "job_type": "kind", "begin_time": "started",
               "fail_reason": "problem.message", "error_code": "problem.code", "end_time": None, "entities": None},
    "success": ["Done"],
    "failure": ["Broken", "Aborted"],
    "running": ["Queued", "Going"],
}
SERVICES_JSON = json.dumps({"pipeline": ENTRY})


@pytest.fixture
def custom():
    """A simulator that also serves the user's entry, and a runtime configured with it."""
    clock = Clock(START)
    services = ChainMap(custom_services(SERVICES_JSON), SERVICES)
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock, services=services) as simulator:
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT,
                   "JOBSTEP_SERVICES": SERVICES_JSON}
        yield simulator, Runtime(session=new_session(), environ=environ, clock=clock, log=lambda line: None)


def test_a_configured_entry_works_end_to_end(custom):
    simulator, runtime = custom
    simulator.add_job("run-1", service="pipeline", statuses=("Queued", "Going"), outcome="Done", init_seconds=0,
                      run_seconds=30, job_type="deploy")
    simulator.add_job("run-2", service="pipeline", statuses=("Queued", "Going"), outcome="Aborted", init_seconds=0,
                      run_seconds=0, fail_reason="the approver said no")

    running = handle({"job_id": "run-1", "service": "pipeline"}, agency(), runtime)
    runtime.clock.advance(60)
    done = handle(running, agency(), runtime)
    aborted = handle({"job_id": "run-2", "service": "pipeline"}, agency(), runtime)

    assert simulator.seen[0].target == f"/v2/{PROJECT}/pipelines/runs/run-1"
    assert not running["done"] and running["status"] == "GOING" and running["job"]["job_type"] == "deploy"
    assert done["done"] and done["status"] == "SUCCESS" and done["job"]["status"] == "Done"
    assert aborted["status"] == "FAIL" and "the approver said no" in aborted["error"]["message"]
    assert {seen.verdict for seen in simulator.seen} == {None}


def test_a_configured_entry_maps_progress_on_its_own_scale_and_an_expected_end():
    # Catches: progress_scale ignored (0.3 read as 0.3 %), or the unmapped-by-default fields never read.
    entry = {**ENTRY, "progress_scale": "fraction",
             "fields": {**ENTRY["fields"], "progress": "done_share", "expected_end_time": "eta"}}
    api = custom_services(json.dumps({"pipeline": entry}))["pipeline"]
    ending = {"run": {"state": "Going", "id": "run-1", "started": "2026-01-01T00:00:00Z",
                      "eta": "2026-01-01T01:00:00Z"}}

    assert api.job_of({"run": {"state": "Going", "done_share": 0.3}}).progress == 0.3
    assert api.job_of(ending).expected_end_time == "2026-01-01T01:00:00Z"


def test_a_configured_entry_can_be_the_default_and_come_from_a_file_of_the_code_package(custom):
    simulator, runtime = custom
    simulator.add_job("run-1", service="pipeline", statuses=("Queued", "Going"), outcome="Done", **RUNNING_FOREVER)
    files = {"jobstep-services.json": SERVICES_JSON}
    runtime = runtime._replace(environ={**runtime.environ, "JOBSTEP_SERVICES": "jobstep-services.json",
                                        "JOBSTEP_SERVICE": "pipeline"}, read_file=files.__getitem__)

    answer = handle({"job_id": "run-1"}, agency(), runtime)

    assert answer["service"] == "pipeline" and answer["status"] == "GOING"


def test_the_host_of_a_configured_entry_is_built_only_from_its_entry_and_the_region():
    api = custom_services(SERVICES_JSON)["pipeline"]

    assert api.regional_endpoint("ap-southeast-1") == "https://myapi.ap-southeast-1.myhuaweicloud.com"


def test_an_event_chooses_no_host_and_no_path(custom):
    # Catches: an entry taken from the event (the decoy values would reach the URL), or a service name that is
    # not the registry's.
    simulator, runtime = custom
    simulator.add_job("run-1", service="pipeline", statuses=("Queued", "Going"), **RUNNING_FOREVER)
    hostile = {"job_id": "run-1", "service": "pipeline", "host": "evil", "path": "/evil/{job_id}",
               "pipeline": {**ENTRY, "host": "evil"}}

    answer = handle(hostile, agency(), runtime)
    unknown = handle({"job_id": "run-1", "service": "evil-pipeline"}, agency(), runtime)

    assert answer["status"] == "GOING" and [seen.target for seen in simulator.seen] == [
        f"/v2/{PROJECT}/pipelines/runs/run-1"]
    assert unknown["error"]["type"] == "invalid_input" and "pipeline" in unknown["error"]["message"]


def bad(**changes) -> str:
    entry = {**ENTRY, **changes}
    return json.dumps({"pipeline": {key: value for key, value in entry.items() if value != "<drop>"}})


@pytest.mark.parametrize("value, says", [
    ("{not json", "is not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ("[" * 2000, "nested too deeply"),  # within FunctionGraph's 4096 characters of variables. Catches: RecursionError
    (json.dumps({"Pipe Line": ENTRY}), "is not a service name"),
    (json.dumps({"ecs": ENTRY}), "'ecs' is built in"),
    (json.dumps({"pipeline": "an entry"}), "must be an object"),
    (bad(hots="myapi"), "hots must be left out"),
    (bad(host="<drop>"), "host must be given"),
    (bad(host="evil.com"), "host must be a host name's first label"),
    (bad(host="MyApi"), "host must be a host name's first label"),
    (bad(path="v2/jobs/{job_id}"), "path must be a URL path starting with /"),
    (bad(path="/v2/{region}/jobs/{job_id}"), "path must be a URL path"),
    (bad(path="/v2/jobs/{job_id}?x=1"), "path must be a URL path"),
    (bad(path="/v2/{project_id}/jobs"), "where {job_id} goes"),
    (bad(query={"id": "{job}"}), "query.id must be a URL path"),
    (bad(query={"i d": "{job_id}"}), "query.i d must be named"),
    (bad(job=["run"]), "job must be the dotted path"),
    (bad(fields={"state": "status"}), "fields.state must be one of"),
    (bad(fields={"status": "run..state"}), "fields.status must be a dotted path"),
    (bad(sub_job={"progress": "p"}), "sub_job.progress must be one of"),
    (bad(success="Done"), "success must be a list of status values"),
    (bad(failure=[]), "failure must be a list of status values"),
    (bad(running=[""]), "running must be a list of status values"),
    (bad(hosts={"ap-southeast-1": "evil.com"}), "hosts.ap-southeast-1 must be a host name's first label"),
    (bad(domains={"ap-southeast-1": "evil.com"}), "domains.ap-southeast-1 must be one of"),
    (bad(progress_scale="percentage"), "progress_scale must be one of percent, fraction"),
])
def test_each_kind_of_bad_entry_is_a_configuration_error_that_names_the_key(harness, value, says):
    harness.environ["JOBSTEP_SERVICES"] = value

    answer = harness.call({"job_id": "job-1"})

    error = answer["error"]
    assert answer["done"] and error["type"] == "configuration" and "JOBSTEP_SERVICES" in error["message"]
    assert says in error["message"] and harness.requests == 0


def test_a_file_that_is_not_there_or_outside_the_package_is_named(harness):
    for name in ("no-such-file.json", "../README.md", "/etc/hostname"):
        harness.environ["JOBSTEP_SERVICES"] = name

        answer = harness.call({"job_id": "job-1"})

        assert answer["error"]["type"] == "configuration" and name in answer["error"]["message"]
    assert harness.requests == 0
    with pytest.raises(ValueError):
        read_code_file("../README.md")
