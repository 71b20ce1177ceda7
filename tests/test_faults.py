"""The fault switchboard: every way the job API can fail, one call at a time, in the middle of a loop.

For each fault the step answers inside the function's remaining time with the right verdict, keeps the
loop's state (attempt counted, started_at kept), and a loop that goes on once the fault clears reaches
the job's true end. No secret appears in any answer or log line, whatever failed.
"""

import json
import time

import pytest
from helpers import SECRETS, agency, refusing_url
from jobstep.client import MAX_BODY
from jobstep_tools.simulator import Fault

REMAINING_MS = 3_000
RUNNING = json.dumps({"status": "RUNNING", "job_id": "job-1", "job_type": "deleteELB", "entities": {}}).encode()
SIGNATURE_FAIL = json.dumps({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication information:"
                             " verify aksk signature fail"}).encode()
SIGNATURE_EXPIRED = json.dumps({"error_code": "APIGW.0301", "error_msg": "Incorrect IAM authentication"
                                " information: calc ak sk signature fail:signature expired"}).encode()


def closed_port(harness):
    harness.environ["JOBSTEP_ENDPOINT"] = refusing_url()


def restore_endpoint(harness):
    harness.environ["JOBSTEP_ENDPOINT"] = harness.simulator.base_url


def serve(fault):
    def arrange(harness):
        harness.simulator.inject(fault)
    return arrange


def hide_job(harness):
    harness.simulator.jobs["job-1"].visible_after = 10**9


def show_job(harness):
    harness.simulator.jobs["job-1"].visible_after = 0


def hide_job_past_grace(harness):
    hide_job(harness)
    harness.clock.advance(120)  # the 60 s grace counts from started_at


# name, how the fault starts, how it clears (None: it was one answer), error type, whether the loop ends
FAULTS = [
    ("connection refused", closed_port, restore_endpoint, "connection", False),
    ("connection closed before answering", serve(Fault(drop=True)), None, "connection", False),
    ("connection reset mid-response", serve(Fault(200, RUNNING, cut_after=12)), None, "connection", False),
    ("slower than the remaining time", serve(Fault(200, RUNNING, delay=REMAINING_MS / 1000)), None, "timeout",
     False),
    ("429 with Retry-After", serve(Fault(429, headers={"Retry-After": "20"})), None, "throttled", False),
    ("429 without Retry-After", serve(Fault(429)), None, "throttled", False),
    ("500", serve(Fault(500)), None, "unavailable", False),
    ("502", serve(Fault(502, b"<html>Bad Gateway</html>")), None, "unavailable", False),
    ("503", serve(Fault(503)), None, "unavailable", False),
    ("504", serve(Fault(504)), None, "unavailable", False),
    ("HTML page with 200", serve(Fault(200, b"<html><body>We'll be back soon</body></html>")), None,
     "bad_response", False),
    ("truncated JSON", serve(Fault(200, RUNNING[:20])), None, "bad_response", False),
    ("JSON without status", serve(Fault(200, b'{"job_id": "job-1", "entities": {}}')), None, "bad_response",
     False),
    ("a status never seen before", serve(Fault(200, RUNNING.replace(b"RUNNING", b"MIGRATING_TO_MARS"))), None,
     None, False),
    ("huge body", serve(Fault(200, b'{"status": "RUNNING", "pad": "' + b"x" * (2 * MAX_BODY) + b'"}')), None,
     "bad_response", False),
    ("404 inside the grace period", hide_job, show_job, "not_found", False),
    ("404 after the grace period", hide_job_past_grace, show_job, "not_found", True),
    ("401 signature", serve(Fault(401, SIGNATURE_FAIL)), None, "unauthorized", True),
    ("401 signature expired (clock skew)", serve(Fault(401, SIGNATURE_EXPIRED)), None, "clock_skew", True),
    ("403", serve(Fault(403, b'{"error_code": "APIGW.0302", "error_msg": "not authorized"}')), None, "forbidden",
     True),
    # Catches: a 2xx other than 200 taken for an error (it ended the loop as http_error).
    ("202 with the job's body", serve(Fault(202, RUNNING)), None, None, False),
    ("202 without a body", serve(Fault(202)), None, "bad_response", False),
    # Catches: a Retry-After read as a float without a bound (inf: an OverflowError answered as internal).
    ("429 with a Retry-After of 400 digits", serve(Fault(429, headers={"Retry-After": "9" * 400})), None,
     "throttled", False),
]


SLOW = {"slower than the remaining time"}  # waits out the function's remaining time, in real time: over a second


@pytest.mark.parametrize("name, start, clear, kind, ends", [
    pytest.param(*case, id=case[0], marks=[pytest.mark.slow] if case[0] in SLOW else []) for case in FAULTS])
def test_a_fault_mid_loop_is_answered_in_time_and_the_loop_resumes_to_the_true_end(harness, name, start, clear,
                                                                                   kind, ends):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=600)
    context = agency(timeout=REMAINING_MS / 1000)
    first = harness.call({"job_id": "job-1"}, context)
    harness.clock.advance(first["retry_after"])
    start(harness)

    began = time.monotonic()
    answer = harness.call(first, context)
    took = time.monotonic() - began

    assert took < REMAINING_MS / 1000  # answered before the function's own timeout
    assert answer["done"] is ends and (answer["error"] or {}).get("type") == kind
    assert answer["poll"]["attempt"] == 2 and answer["poll"]["started_at"] == first["poll"]["started_at"]
    if ends:
        assert answer["status"] == "ERROR" and answer["retry_after"] is None
    else:
        assert answer["retry_after"] >= 1 and answer["status"] in ("RUNNING", "MIGRATING_TO_MARS")
    if clear:
        clear(harness)
    # Going on: a retry feeds the answer back after its retry_after; after an ERROR, a new loop resumes at once from
    # its poll state.
    harness.clock.advance(answer["retry_after"] or 0)
    event = {"job_id": "job-1", "poll": answer["poll"]} if ends else answer
    answers = [answer, *harness.loop(event, context=context)]
    assert answers[-1]["status"] == "SUCCESS"
    assert [a["poll"]["attempt"] for a in answers] == list(range(2, len(answers) + 2))
    shown = json.dumps(answers) + "\n".join(harness.logs)
    assert not [secret for secret in SECRETS if secret in shown] and "SDK-HMAC-SHA256" not in shown


def test_clock_skew_says_so_and_how_to_fix_it(harness):
    harness.simulator.add_job("job-1")
    harness.simulator.clock = lambda: harness.clock() + 3600  # the function's clock is an hour behind

    answer = harness.call({"job_id": "job-1"})

    message = answer["error"]["message"]
    assert answer["error"]["type"] == "clock_skew" and "clock" in message and "NTP" in message
