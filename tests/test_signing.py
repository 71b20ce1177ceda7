"""The handler's requests, signed with huaweicloudsdkcore, pass the independent gateway-style check."""

from helpers import AK, PROJECT, SK, TEMP_AK, TEMP_SK, TOKEN, agency
from jobstep_tools import sigcheck
from jobstep_tools.local import LocalContext


def last_request(harness):
    seen = harness.simulator.seen[-1]
    return seen, {name.lower(): value for name, value in seen.headers.items()}


def test_long_term_keys_from_the_sdk_environment_variables_sign_a_valid_request(harness):
    harness.simulator.add_job("job-1")
    harness.environ.update(HUAWEICLOUD_SDK_AK=AK, HUAWEICLOUD_SDK_SK=SK)

    answer = harness.call({"job_id": "job-1"}, LocalContext())

    seen, headers = last_request(harness)
    assert seen.verdict is None and answer["error"] is None and answer["status"] == "INIT"
    access_key, signed, _ = sigcheck.parse_authorization(headers["authorization"])
    assert access_key == AK
    assert {"host", "x-sdk-date", "x-project-id"} <= set(signed) and "x-security-token" not in headers


def test_agency_temporary_keys_sign_with_the_security_token(harness):
    harness.simulator.add_job("job-1")

    answer = harness.call({"job_id": "job-1"}, agency())

    seen, headers = last_request(harness)
    assert seen.verdict is None and answer["error"] is None
    access_key, signed, _ = sigcheck.parse_authorization(headers["authorization"])
    assert access_key == TEMP_AK
    assert headers["x-security-token"] == TOKEN and "x-security-token" in signed


def test_security_token_from_the_environment_is_sent_and_signed(harness):
    harness.simulator.add_job("job-1")
    harness.environ.update(HUAWEICLOUD_SDK_AK=TEMP_AK, HUAWEICLOUD_SDK_SK=TEMP_SK,
                           HUAWEICLOUD_SDK_SECURITY_TOKEN=TOKEN)

    answer = harness.call({"job_id": "job-1"}, LocalContext())

    seen, headers = last_request(harness)
    assert seen.verdict is None and answer["error"] is None
    assert "x-security-token" in sigcheck.parse_authorization(headers["authorization"])[1]


def test_the_agency_comes_before_the_environment(harness):
    harness.simulator.add_job("job-1")
    harness.environ.update(HUAWEICLOUD_SDK_AK=AK, HUAWEICLOUD_SDK_SK=SK)

    harness.call({"job_id": "job-1"}, agency())

    _, headers = last_request(harness)
    assert sigcheck.parse_authorization(headers["authorization"])[0] == TEMP_AK


def test_no_credentials_at_all_is_an_error_without_a_request(harness):
    answer = harness.call({"job_id": "job-1"}, LocalContext())

    assert harness.requests == 0
    assert answer["done"] and answer["status"] == "ERROR"
    assert answer["error"]["type"] == "credentials" and "agency" in answer["error"]["message"]


def test_keys_that_change_between_calls_are_used_at_once(harness):
    harness.simulator.add_job("job-1")
    harness.simulator.keys["ROTATEDAK00000000001"] = ("rotated-secret", "rotated-token")

    harness.call({"job_id": "job-1"}, agency())
    harness.call({"job_id": "job-1"}, LocalContext("ROTATEDAK00000000001", "rotated-secret", "rotated-token"))

    keys_used = [sigcheck.parse_authorization(s.headers["Authorization"])[0] for s in harness.simulator.seen]
    assert keys_used == [TEMP_AK, "ROTATEDAK00000000001"]
    assert all(seen.verdict is None for seen in harness.simulator.seen)


def test_project_id_order_event_then_runtime_then_sdk_variable(harness):
    harness.simulator.add_job("job-1")
    harness.environ.pop("RUNTIME_PROJECT_ID")
    harness.environ["HUAWEICLOUD_SDK_PROJECT_ID"] = "sdkproject"
    harness.call({"job_id": "job-1"})
    harness.environ["RUNTIME_PROJECT_ID"] = "runtimeproject"
    harness.call({"job_id": "job-1"})
    harness.call({"job_id": "job-1", "project_id": PROJECT})

    paths = [seen.target for seen in harness.simulator.seen]
    assert paths == [f"/v1.0/{p}/jobs/job-1" for p in ("sdkproject", "runtimeproject", PROJECT)]


def test_no_project_id_anywhere_is_an_error_without_a_request(harness):
    harness.environ.pop("RUNTIME_PROJECT_ID")

    answer = harness.call({"job_id": "job-1"})

    assert harness.requests == 0 and answer["status"] == "ERROR"
    assert "project_id" in answer["error"]["message"]


def test_a_clock_more_than_15_minutes_off_gets_a_message_that_says_so(harness):
    harness.simulator.add_job("job-1")
    signer_clock_behind = 16 * 60
    harness.clock.advance(signer_clock_behind)
    harness.simulator.clock = lambda: harness.clock() + signer_clock_behind

    answer = harness.call({"job_id": "job-1"})

    assert answer["done"] and answer["status"] == "ERROR"
    assert answer["error"]["type"] == "clock_skew" and answer["error"]["http_status"] == 401
    assert "15 minutes" in answer["error"]["message"] and "clock" in answer["error"]["message"]


def test_a_wrong_secret_key_is_a_permanent_authentication_error(harness):
    harness.simulator.add_job("job-1")

    answer = harness.call({"job_id": "job-1"}, LocalContext(TEMP_AK, "not-the-secret", TOKEN))

    assert harness.simulator.seen[-1].verdict == "signature mismatch"
    assert answer["done"] and answer["error"]["type"] == "unauthorized"
    assert "agency" in answer["error"]["message"] and not answer["error"]["retryable"]


def test_temporary_keys_without_their_token_are_rejected(harness):
    harness.simulator.add_job("job-1")

    answer = harness.call({"job_id": "job-1"}, LocalContext(TEMP_AK, TEMP_SK))

    assert answer["done"] and answer["error"]["type"] == "unauthorized"
