"""A warm call sends its request on the kept-alive connection from the caller's own thread, with no hand-off to a
worker; a request that needs a new connection (DNS, connect, TLS) still goes to a worker thread (client.fetch_job).
Which thread sent each request is read from urllib3's own debug log: it logs each request's line and status
(`"GET /path HTTP/1.1" 200 ...`, connectionpool.py, HTTPConnectionPool._make_request) from the thread that sent it,
and a log record carries that thread's name. (That the caller's thread bounds every read by the deadline is
tests/test_deadline.py's.)"""

import logging
import ssl
import threading

import pytest
import trustme
from helpers import PROJECT, RUNNING_FOREVER, TEMP_AK, TEMP_SK, TOKEN, Harness
from jobstep.client import new_session
from jobstep_tools.simulator import Fault, JobSimulator

WORKER = "jobstep-query"  # client._Worker's threads


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    return caplog


def senders(log, harness: Harness, calls: int) -> list[set[str]]:
    """For each of `calls` calls of the handler, the names of the threads that sent its requests."""
    threads = []
    for _ in range(calls):
        log.clear()
        answer = harness.call({"job_id": "job-1"})
        assert answer["status"] == "RUNNING" and answer["error"] is None
        threads.append({record.threadName for record in log.records
                        if record.name == "urllib3.connectionpool" and '"GET ' in record.getMessage()})
    return threads


def test_a_call_on_a_kept_alive_connection_runs_in_the_calling_thread(harness, log):
    # Catches: every request handed to a worker thread (the thread hop a warm call is spared), and every request sent
    # from the caller's thread, the first one too (whose DNS lookup, connect and TLS handshake nothing bounds there).
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    me = threading.current_thread().name

    assert senders(log, harness, 3) == [{WORKER}, {me}, {me}]
    assert harness.simulator.connections == 1


def test_a_call_after_the_job_api_closed_the_connection_connects_on_a_worker_then_is_warm_again(harness, log):
    # The second answer says `Connection: close`: the third call needs a new connection, the fourth has it again.
    # Catches: a call that opens a new connection from the caller's thread once the instance is warm (no refusal
    # in connect()), and a warm path that is never taken again once a connection was lost.
    harness.simulator.add_job("job-1", **RUNNING_FOREVER)
    me = threading.current_thread().name
    first = senders(log, harness, 1)
    harness.simulator.inject(Fault(200, b'{"status": "RUNNING"}', {"Connection": "close"}))

    assert first + senders(log, harness, 3) == [{WORKER}, {me}, {WORKER}, {me}]
    assert harness.simulator.connections == 2


def test_a_warm_call_over_tls_runs_in_the_calling_thread_on_the_same_connection(clock, tmp_path, log):
    # Catches: TLS calls kept off the warm path (a reuse check or a connection class for HTTP only), and reads
    # bounded by the deadline that lose a TLS answer on a kept-alive connection (tests/test_deadline.py's TLS case
    # only sees a warm TLS call time out).
    authority = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("localhost").configure_cert(server)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock, tls=server) as simulator:
        simulator.add_job("job-1", **RUNNING_FOREVER)
        harness = Harness(simulator, clock, {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT},
                          session=new_session())
        harness.session.verify = str(tmp_path / "ca.pem")
        me = threading.current_thread().name
        try:
            threads = senders(log, harness, 3)
        finally:
            harness.session.close()

    assert simulator.base_url.startswith("https://")
    assert threads == [{WORKER}, {me}, {me}]
    assert simulator.connections == 1 and [seen.verdict for seen in simulator.seen] == [None] * 3
