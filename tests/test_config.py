"""Configuration: the function's environment variables, checked before any request, and the endpoint they give."""

import pytest
from helpers import PROJECT, agency
from jobstep.config import Config, endpoint
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle


@pytest.mark.parametrize("environ, says", [
    ({"JOBSTEP_MAX_WAIT": "soon"}, "JOBSTEP_MAX_WAIT"),
    ({"JOBSTEP_NOT_FOUND_GRACE": "-5"}, "JOBSTEP_NOT_FOUND_GRACE"),
    ({"JOBSTEP_REGION": "ap-southeast-1.evil.com"}, "JOBSTEP_REGION"),
    ({"JOBSTEP_SERVICE": "iam"}, "JOBSTEP_SERVICE"),
    ({"JOBSTEP_ENDPOINT": "http://elb.example.com"}, "https"),
    ({"JOBSTEP_ENDPOINT": "https://user:pw@elb.example.com"}, "JOBSTEP_ENDPOINT"),
    ({"JOBSTEP_ENDPOINT": "https://elb.example.com:port"}, "JOBSTEP_ENDPOINT"),
    ({"JOBSTEP_MIN_DELAY": "0"}, "JOBSTEP_MIN_DELAY"),
    ({"JOBSTEP_MIN_DELAY": "30", "JOBSTEP_MAX_DELAY": "10"}, "JOBSTEP_MAX_DELAY"),
    ({"JOBSTEP_MAX_DELAY": "7200"}, "JOBSTEP_MAX_DELAY"),
    ({"JOBSTEP_DELAY_GROWTH": "nan"}, "JOBSTEP_DELAY_GROWTH"),
    ({"JOBSTEP_DELAY_GROWTH": "2"}, "JOBSTEP_DELAY_GROWTH"),
])
def test_bad_configuration_is_an_error_that_names_the_variable(world, environ, says):
    simulator, runtime, logs = world
    before = len(simulator.seen)
    broken = Runtime(session=runtime.session, environ={**runtime.environ, **environ}, clock=runtime.clock,
                     log=logs.append)

    answer = handle({"job_id": "job-1"}, agency(), broken)

    assert answer["done"] and answer["error"]["type"] == "configuration" and says in answer["error"]["message"]
    assert len(simulator.seen) == before


@pytest.mark.parametrize("config, service, region, expected", [
    (Config(), "elb", "ap-southeast-1", "https://elb.ap-southeast-1.myhuaweicloud.com"),
    (Config(region="cn-north-4"), "ecs", "cn-north-4", "https://ecs.cn-north-4.myhuaweicloud.com"),
    (Config(), "elbv3", "eu-west-101", "https://elb.eu-west-101.myhuaweicloud.com"),
    (Config(endpoint="https://vpcep.example.com"), "vpc", "ap-southeast-1", "https://vpcep.example.com"),
    (Config(), "elb", None, None),
])
def test_the_endpoint_is_the_services_regional_host_unless_configured(config, service, region, expected):
    assert endpoint(config, SERVICES[service], region) == expected


def test_no_region_and_no_endpoint_is_a_configuration_error(world):
    simulator, runtime, logs = world
    bare = Runtime(session=runtime.session, environ={"RUNTIME_PROJECT_ID": PROJECT}, log=logs.append)

    answer = handle({"job_id": "job-1"}, None, bare)

    assert answer["error"]["type"] == "configuration" and "JOBSTEP_REGION" in answer["error"]["message"]
