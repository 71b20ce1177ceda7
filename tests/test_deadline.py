"""Never past the function's time: whatever the job API does, the handler answers within the invocation's
remaining time (from the context) less a margin, with a retryable timeout.

Each server here stays slow on purpose: it trickles a byte at a time, far inside any per-read timeout, so
only a deadline on the whole request ends the call. Catches: fetching on the caller's thread with requests'
timeouts alone (they bound each socket read, and nothing bounds a DNS lookup), which answered after 20 s here.
"""

import socket
import threading
import time

import pytest
from helpers import agency, refusing_url
from jobstep import client

pytestmark = pytest.mark.slow  # every test here waits out slow servers in real time: seconds each

REMAINING_MS = 5_000
MARGIN = 0.5  # seconds the handler must still have when it answers
TRICKLE_SECONDS = 0.2


class SlowServer:
    """A TCP server on 127.0.0.1 that reads the request, then sends `opening` and a byte of `trickle` every
    TRICKLE_SECONDS until stopped; with neither, it accepts and never answers (a stalled TLS handshake)."""

    def __init__(self, opening: bytes = b"", trickle: bytes = b""):
        self.opening, self.trickle = opening, trickle
        self.stopped = threading.Event()
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self.talk, args=(connection,), daemon=True).start()

    def talk(self, connection: socket.socket) -> None:
        with connection:
            try:
                if self.opening or self.trickle:
                    connection.recv(65536)
                    connection.sendall(self.opening)
                for byte in self.trickle * 1000:
                    if self.stopped.wait(TRICKLE_SECONDS):
                        return
                    connection.sendall(bytes([byte]))
                self.stopped.wait()
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def trickled_headers(harness):
    server = SlowServer(b"HTTP/1.1 200 OK\r\n", b"X-Padding: slow\r\n")
    harness.environ["JOBSTEP_ENDPOINT"] = f"http://127.0.0.1:{server.port}"
    return server.close


def trickled_body(harness):
    server = SlowServer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
                        b'{"status": "RUNNING"                    ')
    harness.environ["JOBSTEP_ENDPOINT"] = f"http://127.0.0.1:{server.port}"
    return server.close


def stalled_tls_handshake(harness):
    server = SlowServer()
    harness.environ["JOBSTEP_ENDPOINT"] = f"https://127.0.0.1:{server.port}"
    return server.close


def slow_dns(harness, monkeypatch):
    """The resolver answers `localhost` only when the test ends: a DNS server that does not answer in time."""
    answered = threading.Event()
    resolve = socket.getaddrinfo

    def slow_getaddrinfo(host, *args, **kwargs):
        if host == "localhost":
            answered.wait(60)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    harness.environ["JOBSTEP_ENDPOINT"] = refusing_url().replace("127.0.0.1", "localhost")
    return answered.set


@pytest.mark.parametrize("slow", [trickled_headers, trickled_body, stalled_tls_handshake, slow_dns],
                         ids=lambda slow: slow.__name__)
def test_a_slow_job_api_never_keeps_the_handler_past_its_time(harness, monkeypatch, slow):
    harness.simulator.add_job("job-1")
    context = agency(timeout=REMAINING_MS / 1000)
    arguments = (harness, monkeypatch) if slow is slow_dns else (harness,)
    stop = slow(*arguments)
    try:
        began = time.monotonic()
        answer = harness.call({"job_id": "job-1"}, context)
        took = time.monotonic() - began
    finally:
        stop()

    assert took <= REMAINING_MS / 1000 - MARGIN, took
    assert not answer["done"] and answer["error"]["retryable"] and answer["error"]["type"] == "timeout"
    assert answer["retry_after"] >= 1 and answer["poll"]["attempt"] == 1


def query_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "jobstep-query")


def test_requests_that_never_finish_do_not_pile_up_threads_and_sockets(harness):
    # A job API that trickles its headers for hours: each call stops waiting at its budget, and its request goes on.
    # Catches: a worker thread and a socket left behind by every call (30 after 30 calls), or a call that waits
    # its whole budget once the cap is reached instead of answering at once with the reason.
    harness.simulator.add_job("job-1")
    server = SlowServer(b"HTTP/1.1 200 OK\r\n", b"X-Padding: slow\r\n")
    harness.environ["JOBSTEP_ENDPOINT"] = f"http://127.0.0.1:{server.port}"
    threads = query_threads()
    try:
        timed = []
        for _ in range(client.MAX_ABANDONED + 6):
            began = time.monotonic()
            answer = harness.call({"job_id": "job-1"}, agency(timeout=1.6))
            timed.append((time.monotonic() - began, answer))
    finally:
        server.close()

    assert server.connections == client.MAX_ABANDONED
    assert query_threads() - threads <= client.MAX_ABANDONED
    for _, answer in timed:
        assert not answer["done"] and answer["error"]["type"] == "timeout" and answer["error"]["retryable"]
    for took, answer in timed[client.MAX_ABANDONED:]:
        assert took < 0.2 and "still unanswered" in answer["error"]["message"]
    # Once the job API lets go, the abandoned requests end and calls query again.
    deadline = time.monotonic() + 5
    while client._POOL.abandoned and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client._POOL.abandoned == 0
    harness.environ["JOBSTEP_ENDPOINT"] = harness.simulator.base_url
    assert harness.call({"job_id": "job-1"})["error"] is None
