"""Every job API of the registry: its path, its host, and its answer in the one normalised shape."""

import pytest
from conftest import PROJECT
from jobstep.services import SERVICES

PATHS = {
    "elb": f"/v1.0/{PROJECT}/jobs/job-1",
    "ecs": f"/v1/{PROJECT}/jobs/job-1",
    "evs": f"/v1/{PROJECT}/jobs/job-1",
    "bms": f"/v1/{PROJECT}/jobs/job-1",
    "ims": f"/v1/{PROJECT}/jobs/job-1",
    "vpc": f"/v1/{PROJECT}/jobs/job-1",
    "elbv3": f"/v3/{PROJECT}/elb/jobs/job-1",
}


def test_the_registry_is_exactly_the_documented_family():
    assert set(SERVICES) == set(PATHS)


@pytest.mark.parametrize("service", sorted(PATHS))
def test_each_service_is_queried_at_its_path_and_answers_the_one_shape(harness, service):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=5,
                              outcome="COMPLETE" if service == "elbv3" else "SUCCESS")

    running = harness.call({"job_id": "job-1", "service": service})
    harness.clock.advance(10)
    finished = harness.call(running)

    assert [seen.target for seen in harness.simulator.seen] == [PATHS[service]] * 2
    assert running["service"] == service and not running["done"] and running["status"] == "RUNNING"
    assert running["job"]["job_id"] == "job-1" and running["job"]["begin_time"]
    assert finished["done"] and finished["status"] == "SUCCESS" and finished["error"] is None
    assert finished["job"]["status"] == ("COMPLETE" if service == "elbv3" else "SUCCESS")


def test_the_service_can_come_from_the_environment(harness):
    harness.simulator.add_job("job-1")
    harness.environ["JOBSTEP_SERVICE"] = "evs"

    answer = harness.call({"job_id": "job-1"})

    assert answer["service"] == "evs" and harness.simulator.seen[-1].target == PATHS["evs"]


def test_elb_v3_failure_reads_error_msg_as_the_reason(harness):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0, outcome="FAIL", error_code="ELB.8902",
                              fail_reason="member still bound")

    answer = harness.call({"job_id": "job-1", "service": "elbv3"})

    assert answer["status"] == "FAIL" and answer["job"]["fail_reason"] == "member still bound"
    assert "ELB.8902: member still bound" in answer["error"]["message"]
    assert answer["job"]["entities"]["resource_id"]


def test_ecs_sub_job_failures_are_surfaced_in_the_message(harness):
    sub_jobs = [
        {"status": "SUCCESS", "job_id": "sub-1", "entities": {"server_id": "s-1"}},
        {"status": "FAIL", "job_id": "sub-2", "error_code": "Ecs.0013", "fail_reason": "insufficient EIP quota",
         "entities": {}},
    ]
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0, outcome="FAIL", job_type="createServers",
                              sub_jobs=sub_jobs)

    answer = harness.call({"job_id": "job-1", "service": "ecs"})

    assert answer["status"] == "FAIL" and answer["job"]["entities"]["sub_jobs"] == sub_jobs
    message = answer["error"]["message"]
    assert "createServers" in message and "sub-2" in message and "Ecs.0013: insufficient EIP quota" in message
    assert "sub-1" not in message
