"""Where the signed request may go: only the registry's official host for a well-formed region, or the
configured JOBSTEP_ENDPOINT. No event field, proxy variable or CA setting can send it anywhere else,
and TLS is always verified."""

import base64
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import trustme
from helpers import PROJECT, TEMP_AK, TEMP_SK, TOKEN, agency
from jobstep.client import new_session
from jobstep.config import Config, endpoint
from jobstep.services import SERVICES
from jobstep.step import Runtime, handle
from jobstep_tools.local import LocalContext
from jobstep_tools.simulator import Fault, JobSimulator

DATA = Path(__file__).resolve().parent / "data"


class Decoy:
    """A loopback server that answers nothing useful and counts every connection made to it."""

    def __init__(self, tls: bool = False):
        decoy = self
        self.connections, self.requests = 0, []
        context = None
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(DATA / "selfsigned.pem", DATA / "selfsigned.key")

        class Handler(BaseHTTPRequestHandler):
            handshake_failed = False

            def setup(self):
                decoy.connections += 1
                if context:
                    try:
                        self.request = context.wrap_socket(self.request, server_side=True)
                    except (ssl.SSLError, OSError):
                        self.handshake_failed = True
                super().setup()

            def handle(self):
                if not self.handshake_failed:
                    super().handle()

            def handle_one_request(self):
                super().handle_one_request()
                if self.requestline:
                    decoy.requests.append(self.requestline)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def decoy():
    server = Decoy()
    yield server
    server.close()


def hostile_events(address: str) -> list:
    """Every field an attacker controls, pointed at the decoy in each way a URL can be bent."""
    job = {"job_id": "job-1"}
    events = [
        {**job, "region": address}, {**job, "region": f"ap-southeast-1@{address}"},
        {**job, "region": f"ap-southeast-1.{address}"}, {**job, "region": f"//{address}/"},
        {**job, "service": f"http://{address}"}, {**job, "service": f"elb.{address}"},
        {**job, "project_id": f"x@{address}"}, {**job, "project_id": f"../../{address}"},
        {"job_id": f"@{address}"}, {"job_id": f"../../..//{address}/"}, {"job_id": "job-1%2F..%2F..%2F"},
        {"job_id": "job-1?x=http://" + address}, {"job_id": "job-1#" + address},
        {**job, "endpoint": f"http://{address}"}, {**job, "JOBSTEP_ENDPOINT": f"http://{address}"},
        {**job, "headers": {"Host": address}}, {**job, "url": f"http://{address}/"},
    ]
    apig = {"httpMethod": "GET", "path": "/jobs/job-1", "requestContext": {}, "isBase64Encoded": False,
            "headers": {"host": address, "x-forwarded-host": address, "x-forwarded-for": address}}
    events += [
        {**apig, "pathParameters": {"job_id": "job-1"}, "queryStringParameters": {"region": address}},
        {**apig, "pathParameters": {"job_id": f"..%2F{address}"}, "queryStringParameters": {}},
        {**apig, "pathParameters": {"job_id": "job-1"}, "body": json.dumps({"service": f"http://{address}"})},
        {"trigger_type": "TIMER", "user_event": json.dumps({**job, "region": address})},
        {"record": [{"smn": {"message": json.dumps({**job, "project_id": f"p@{address}"})}}]},
        {"trigger_type": "KAFKA", "records": [{"messages": [json.dumps({**job, "service": address})]}]},
    ]
    return events


def test_no_event_field_sends_the_request_anywhere_but_the_endpoint(harness, decoy):
    harness.simulator.add_job("job-1")

    for event in hostile_events(decoy.address):
        harness.call(event)

    assert decoy.connections == 0
    registered = {api.path.format(project_id=PROJECT, job_id="job-1") for api in SERVICES.values()}
    assert {seen.target for seen in harness.simulator.seen} <= registered


@pytest.mark.parametrize("region, valid", [
    ("ap-southeast-1", True), ("cn-north-4", True), ("eu-west-101", True), ("la-south-2", True),
    ("127.0.0.1", False), ("ap-southeast-1.evil.com", False), ("ap-southeast-1:443", False),
    ("ap-southeast-1@evil.com", False), ("evil.com#", False), ("localhost", False), ("AP-SOUTHEAST-1", False),
    ("ap-southeast-1/", False), ("ap-southeast-1\n", False), ("ap‐southeast‐1", False),
])
def test_without_an_endpoint_only_official_hosts_of_well_formed_regions_are_used(harness, region, valid):
    # Catches: a region check that lets any of the hostile ones through (they would become a host), or a
    # regional host spelled any other way than the service's own.
    if valid:  # the exact host per region is the SDKs' region tables' (tests/test_services.py)
        official = re.compile(rf"https://[a-z0-9-]+\.{re.escape(region)}\.myhuaweicloud\.(com|eu|cn)")
        for name, api in SERVICES.items():
            assert official.fullmatch(endpoint(Config(), api, region)), name
    else:
        answer = harness.call({"job_id": "job-1", "region": region})
        assert answer["error"]["type"] == "invalid_input" and "region" in answer["error"]["message"]
        assert harness.requests == 0


def test_proxy_variables_do_not_divert_the_signed_request(harness, decoy, monkeypatch):
    harness.simulator.add_job("job-1", init_seconds=0, run_seconds=0)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://{decoy.address}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    answer = harness.call({"job_id": "job-1"})

    assert answer["status"] == "SUCCESS" and decoy.connections == 0


@pytest.mark.parametrize("environ", [
    {},
    {"CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""},
    {"REQUESTS_CA_BUNDLE": str(DATA / "selfsigned.pem"), "CURL_CA_BUNDLE": str(DATA / "selfsigned.pem")},
])
def test_tls_is_verified_whatever_the_environment_says(harness, monkeypatch, environ):
    server = Decoy(tls=True)
    try:
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        harness.environ["JOBSTEP_ENDPOINT"] = f"https://{server.address}"

        answer = harness.call({"job_id": "job-1"})
    finally:
        server.close()

    assert answer["error"]["type"] == "connection" and not answer["done"]
    assert server.connections >= 1 and server.requests == []  # the handshake failed: nothing was sent


@pytest.mark.parametrize("certified, works", [("localhost", True), ("elb.ap-southeast-1.myhuaweicloud.com", False)])
def test_a_tls_round_trip_verifies_the_certificate_and_the_host_name(clock, tmp_path, certified, works):
    """Every real endpoint is HTTPS. A test authority (trustme) is given to this session only; the simulator
    answers as `localhost` with a certificate for `certified`."""
    authority = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert(certified).configure_cert(server)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    session = new_session()
    session.verify = str(tmp_path / "ca.pem")
    with JobSimulator(PROJECT, {TEMP_AK: (TEMP_SK, TOKEN)}, clock=clock, tls=server) as simulator:
        simulator.add_job("job-1", init_seconds=0, run_seconds=0)
        environ = {"JOBSTEP_ENDPOINT": simulator.base_url, "RUNTIME_PROJECT_ID": PROJECT}
        runtime = Runtime(session=session, environ=environ, clock=clock, log=lambda line: None)

        answer = handle({"job_id": "job-1"}, agency(), runtime)

    assert simulator.base_url.startswith("https://localhost:")
    if works:
        assert answer["status"] == "SUCCESS" and [seen.verdict for seen in simulator.seen] == [None]
    else:  # the name does not match: the handshake fails and nothing is sent
        assert answer["error"]["type"] == "connection" and not answer["done"] and simulator.seen == []


SLASHED_TOKEN = "IQoJb3JpZ2luX2Vj/EOv+//token==/end"  # base64 tokens hold '/' and '+', which JSON may escape


def _signature(headers: dict) -> str:
    return headers["Authorization"].rpartition("Signature=")[2]


def _escaped_slashes(text: str) -> str:
    return text.replace("/", "\\/")


def _escaped_all(text: str) -> str:
    return "".join(f"\\u{ord(char):04x}" for char in text)


@pytest.mark.parametrize("echo", [
    lambda headers: f'{{"error_msg": "signature {_signature(headers)} does not match"}}',
    lambda headers: f'{{"error_msg": "token {_escaped_slashes(SLASHED_TOKEN)} is invalid"}}',
    lambda headers: f'{{"error_msg": "token {_escaped_all(SLASHED_TOKEN)} is invalid"}}',
    lambda headers: f'{{"error_msg": "keys {_escaped_all(TEMP_AK)} {_escaped_slashes(TEMP_SK)}"}}',
], ids=["signature alone", "token with \\/", "token as \\u escapes", "keys escaped"])
def test_a_secret_echoed_in_any_json_form_is_redacted(harness, echo):
    harness.simulator.keys[TEMP_AK] = (TEMP_SK, SLASHED_TOKEN)
    harness.simulator.inject(Fault(401, lambda headers: echo(headers).encode()))
    context = LocalContext(TEMP_AK, TEMP_SK, SLASHED_TOKEN)

    answer = harness.call({"job_id": "job-1"}, context)

    signature = _signature(harness.simulator.seen[-1].headers)
    shown = json.dumps(answer) + "\n".join(harness.logs)
    assert "[redacted]" in answer["error"]["message"]
    # The log line carries the message too (a timer's user reads only the log), redacted as in the answer.
    assert json.loads(harness.logs[-1])["message"] == answer["error"]["message"]
    for secret in (signature, SLASHED_TOKEN, TEMP_AK, TEMP_SK):
        assert secret not in shown and _escaped_slashes(secret) not in shown


def test_a_secret_echoed_in_a_jobs_entities_is_redacted(harness):
    harness.simulator.keys[TEMP_AK] = (TEMP_SK, SLASHED_TOKEN)
    body = f'{{"status": "RUNNING", "entities": {{"note": "{_escaped_slashes(SLASHED_TOKEN)}"}}}}'
    harness.simulator.inject(Fault(200, body.encode()))

    answer = harness.call({"job_id": "job-1"}, LocalContext(TEMP_AK, TEMP_SK, SLASHED_TOKEN))

    assert answer["job"]["entities"] == {"note": "[redacted]"}


def _base64_inside(secret: str, before: str) -> str:
    """The secret base64-encoded inside a longer text, after `before`: each length of `before` is another alignment."""
    return base64.b64encode(f"{before}{secret} was used".encode()).decode()


def _encoded_part(secret: str, before: str) -> str:
    """The characters of that text that stand for the secret's bytes alone."""
    start, end = len(before.encode()), len(before.encode()) + len(secret.encode())
    return _base64_inside(secret, before)[-(-start // 3) * 4:end // 3 * 4]


# Each: how the server echoes (given the request's signature), and what then must not be shown, whatever the case.
ENCODED_ECHOES = {
    "signature upper-cased": (str.upper, lambda signature: signature),
    "token URL-encoded": (lambda _: quote(SLASHED_TOKEN, safe=""), lambda _: quote(SLASHED_TOKEN, safe="")),
    "token form-encoded": (lambda _: quote_plus(SLASHED_TOKEN), lambda _: quote_plus(SLASHED_TOKEN)),
    "secret key URL-encoded in lower case": (lambda _: quote(TEMP_SK, safe="").lower(),
                                             lambda _: quote(TEMP_SK, safe="")),
    **{f"token in base64 after {len(before)} bytes": (lambda _, before=before: _base64_inside(SLASHED_TOKEN, before),
                                                      lambda _, before=before: _encoded_part(SLASHED_TOKEN, before))
       for before in ("", "x", "xy")},
    "secret key in URL-safe base64": (
        lambda _: _base64_inside(TEMP_SK, "key ").replace("+", "-").replace("/", "_"),
        lambda _: _encoded_part(TEMP_SK, "key ").replace("+", "-").replace("/", "_")),
}


@pytest.mark.parametrize("echo, hidden", ENCODED_ECHOES.values(), ids=ENCODED_ECHOES.keys())
def test_a_secret_echoed_in_another_case_or_encoding_is_redacted(harness, echo, hidden):
    # Catches: redaction of the exact spelling only (an upper-cased signature, a URL-encoded or base64-encoded
    # token went through to the answer and the log).
    harness.simulator.keys[TEMP_AK] = (TEMP_SK, SLASHED_TOKEN)
    harness.simulator.inject(Fault(401, lambda headers: json.dumps(
        {"error_msg": f"rejected: {echo(_signature(headers))}"}).encode()))

    answer = harness.call({"job_id": "job-1"}, LocalContext(TEMP_AK, TEMP_SK, SLASHED_TOKEN))

    signature = _signature(harness.simulator.seen[-1].headers)
    shown = (json.dumps(answer) + "\n".join(harness.logs)).lower()
    assert "[redacted]" in answer["error"]["message"] and len(hidden(signature)) >= 12
    assert hidden(signature).lower() not in shown
