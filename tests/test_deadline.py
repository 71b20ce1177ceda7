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
from conftest import agency, refusing_url

REMAINING_MS = 5_000
MARGIN = 0.5  # seconds the handler must still have when it answers
TRICKLE_SECONDS = 0.2


class SlowServer:
    """A TCP server on 127.0.0.1 that reads the request, then sends `opening` and a byte of `trickle` every
    TRICKLE_SECONDS until stopped; with neither, it accepts and never answers (a stalled TLS handshake)."""

    def __init__(self, opening: bytes = b"", trickle: bytes = b""):
        self.opening, self.trickle = opening, trickle
        self.stopped = threading.Event()
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
