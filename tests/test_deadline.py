"""Never past the function's time: whatever the job API does, the handler answers within the invocation's
remaining time (from the context) less a margin, with a retryable timeout.

Each server here stays slow on purpose: it trickles a byte at a time, far inside any per-read timeout, so
only a deadline on the whole request ends the call. Catches: fetching on the caller's thread with requests'
timeouts alone (they bound each socket read, and nothing bounds a DNS lookup), which answered after 20 s here.
A new connection is made on a worker thread that the caller stops waiting for; a warm call's request goes on its
kept-alive connection from the caller's own thread, each read bounded by the call's deadline (the last tests here).
"""

import socket
import ssl
import threading
import time

import pytest
import trustme
from helpers import agency, refusing_url
from jobstep import client

pytestmark = pytest.mark.slow  # every test here waits out slow servers in real time: seconds each

REMAINING_MS = 5_000
MARGIN = 0.5  # seconds the handler must still have when it answers
TRICKLE_SECONDS = 0.2


class Listener:
    """A TCP server on 127.0.0.1 that talks to each connection on its own thread (`talk`) until closed."""

    def __init__(self) -> None:
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
        raise NotImplementedError

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


class SlowServer(Listener):
    """A TCP server on 127.0.0.1 that reads the request, then sends `opening` and a byte of `trickle` every
    TRICKLE_SECONDS until stopped; with neither, it accepts and never answers (a stalled TLS handshake)."""

    def __init__(self, opening: bytes = b"", trickle: bytes = b""):
        self.opening, self.trickle = opening, trickle
        super().__init__()

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


# A warm call: the request goes on a kept-alive connection in the caller's own thread (no worker), with each read
# of the answer bounded by the call's deadline. These servers answer a connection's first request at once and keep
# the connection open, then trickle their answer to the next request on it.

GIVE_UP_SECONDS = 3.0  # when a kept-alive server stops trickling and closes: a call this long had no deadline
# The function's time left: a request budget of 0.6 s, whose per-read timeout (0.36 s, client.timeouts) a byte every
# TRICKLE_SECONDS never reaches.
WARM_TIMEOUT = 1.6
JOB = b'{"status": "RUNNING"}'
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(JOB), JOB)


class KeptAliveServer(Listener):
    """A job API on 127.0.0.1 (with `tls`, a server-side SSLContext, over TLS) that answers the first request on each
    connection at once, keeping it open, and the second with `opening`, then a byte of `trickle` every
    TRICKLE_SECONDS (or, with `moments`, a byte at each of these seconds after the opening, then nothing) for
    GIVE_UP_SECONDS; then it closes the connection. `close_first` answers the first request with
    `Connection: close` and closes, so that a warm instance must connect again."""

    def __init__(self, opening: bytes = b"", trickle: bytes = b"", tls=None, close_first: bool = False,
                 moments: tuple[float, ...] = ()):
        self.opening, self.trickle, self.tls, self.close_first = opening, trickle, tls, close_first
        self.moments = moments or tuple(TRICKLE_SECONDS * n for n in range(1, 1000))
        self.requests = 0
        super().__init__()

    def read_request(self, connection) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = connection.recv(65536)
            if not chunk:
                raise ConnectionError("the client closed")
            received += chunk
        self.requests += 1

    def talk(self, connection: socket.socket) -> None:
        try:
            if self.tls is not None:
                connection.settimeout(GIVE_UP_SECONDS)
                connection = self.tls.wrap_socket(connection, server_side=True)
                connection.settimeout(None)
            with connection:
                self.read_request(connection)
                if self.close_first:
                    connection.sendall(ANSWER.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
                    return
                connection.sendall(ANSWER)
                self.read_request(connection)
                connection.sendall(self.opening)
                opened = time.monotonic()
                for moment, byte in zip(self.moments, self.trickle * 1000):
                    if self.stopped.wait(opened + moment - time.monotonic()) or moment > GIVE_UP_SECONDS:
                        return
                    connection.sendall(bytes([byte]))
                self.stopped.wait(opened + GIVE_UP_SECONDS - time.monotonic())
        except (OSError, ConnectionError):
            return


def settled() -> None:
    """Waits until no request a test abandoned is still running, so that the next test starts from none."""
    deadline = time.monotonic() + 10
    while client._POOL.abandoned and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def authority(tmp_path):
    """A test certificate authority (trustme) and a server-side TLS context with its certificate for localhost."""
    ca = trustme.CA()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(server)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return str(tmp_path / "ca.pem"), server


@pytest.mark.parametrize("scheme, opening, trickle", [
    ("http", b"HTTP/1.1 200 OK\r\n", b"X-Padding: slow\r\n"),
    ("http", b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
     b'{"status": "RUNNING"                    '),
    ("https", b"HTTP/1.1 200 OK\r\n", b"X-Padding: slow\r\n"),
], ids=["trickled headers", "trickled body", "trickled headers over TLS"])
def test_a_kept_alive_connection_that_starts_to_trickle_is_still_cut_at_the_deadline(harness, authority, scheme,
                                                                                      opening, trickle):
    # Catches: a warm call (in the caller's thread) whose reads keep only urllib3's per-read timeout, or get the
    # deadline's time once instead of before every read: each byte comes within it, and the call lasted until the
    # server gave up (GIVE_UP_SECONDS). Also a warm call that hands its request to a worker after all (one more
    # request abandoned), and a connection that timed out put back in the pool with the rest of the old answer
    # unread (the next call would read it as its own).
    settled()
    ca, tls = authority
    server = KeptAliveServer(opening, trickle, tls=tls if scheme == "https" else None)
    harness.session.verify = ca
    host = "localhost" if scheme == "https" else "127.0.0.1"
    harness.environ["JOBSTEP_ENDPOINT"] = f"{scheme}://{host}:{server.port}"
    try:
        first = harness.call({"job_id": "job-1"})
        abandoned = client._POOL.abandoned
        began = time.monotonic()
        answer = harness.call({"job_id": "job-1"}, agency(timeout=WARM_TIMEOUT))
        took = time.monotonic() - began
        still_abandoned = client._POOL.abandoned
        after = harness.call({"job_id": "job-1"})
    finally:
        server.close()

    assert first["status"] == "RUNNING" and first["error"] is None
    assert took <= WARM_TIMEOUT - MARGIN, took
    assert not answer["done"] and answer["error"]["retryable"] and answer["error"]["type"] == "timeout"
    assert "no answer within 0.6 s" in answer["error"]["message"]  # the words of a budget spent, as on a worker
    assert still_abandoned == abandoned  # the caller's thread ended the request itself: nothing left running
    # The second request went on the first one's connection; the timed-out connection was closed, not reused.
    assert after["status"] == "RUNNING" and after["error"] is None
    assert server.connections == 2 and server.requests == 3


def test_a_warm_call_that_needs_a_new_connection_still_makes_it_on_a_worker(harness, monkeypatch):
    # The job API closed the kept-alive connection (Connection: close), and its name now takes long to resolve.
    # Catches: a warm call that connects in the caller's own thread (the DNS lookup, connect and TLS handshake that
    # no socket timeout bounds): it waited GIVE_UP_SECONDS for the name instead of answering within its budget.
    settled()
    server = KeptAliveServer(close_first=True)
    harness.environ["JOBSTEP_ENDPOINT"] = f"http://localhost:{server.port}"
    answered = threading.Event()
    resolve = socket.getaddrinfo
    try:
        first = harness.call({"job_id": "job-1"})

        def slow_getaddrinfo(host, *args, **kwargs):
            if host == "localhost":
                answered.wait(GIVE_UP_SECONDS)
            return resolve(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
        began = time.monotonic()
        answer = harness.call({"job_id": "job-1"}, agency(timeout=WARM_TIMEOUT))
        took = time.monotonic() - began
    finally:
        answered.set()
        server.close()
    settled()

    assert first["status"] == "RUNNING" and first["error"] is None
    assert took <= WARM_TIMEOUT - MARGIN, took
    assert not answer["done"] and answer["error"]["type"] == "timeout" and answer["error"]["retryable"]
    assert server.requests == 1  # the second request never reached the server in time


def test_each_read_on_a_kept_alive_connection_gets_only_what_is_left_of_the_deadline(harness):
    # A budget of 2 s (per-read timeout 1.2 s): a header byte at 1 s and one at 1.8 s after the request, then silence.
    # Catches: a socket timeout not recomputed from the deadline before each read (urllib3's per-request read timeout
    # kept, or the deadline's time set once): the read after the byte at 1.8 s waited a whole timeout, past 3 s.
    settled()
    server = KeptAliveServer(b"HTTP/1.1 200 OK\r\n", b"X-Padding: slow\r\n", moments=(1.0, 1.8))
    harness.environ["JOBSTEP_ENDPOINT"] = f"http://127.0.0.1:{server.port}"
    try:
        first = harness.call({"job_id": "job-1"})
        began = time.monotonic()
        answer = harness.call({"job_id": "job-1"}, agency(timeout=3.0))
        took = time.monotonic() - began
    finally:
        server.close()

    assert first["status"] == "RUNNING" and first["error"] is None
    assert 1.8 <= took <= 3.0 - MARGIN, took
    assert not answer["done"] and answer["error"]["type"] == "timeout" and answer["error"]["retryable"]
    assert server.connections == 1
