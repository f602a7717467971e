"""Metering rules: verified HTTPS, the proxy, and serving only while metering works."""

import json
import os
import socket
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pytest


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_not_serving_before_the_first_successful_metering(standin):
    assert not standin.MeteringState(window=10, clock=FakeClock()).serving()


def test_serving_stops_after_the_window_and_resumes_on_success(standin):
    clock = FakeClock()
    state = standin.MeteringState(window=10, clock=clock)
    state.record_success()
    clock.now += 10
    assert state.serving()
    state.record_failure(OSError("unreachable"))
    clock.now += 0.5
    assert not state.serving()
    assert state.snapshot()["lastMeteringError"] == "unreachable"
    state.record_success()
    assert state.serving()
    assert state.snapshot()["lastMeteringError"] is None


@pytest.fixture
def billing_server(labnet, pki, tmp_path):
    """The lab's own fake internet (labnet.py) on a loopback port."""
    log = labnet.MeteringLog(str(tmp_path / "metering.jsonl"))
    server = labnet.TLSServer(("127.0.0.1", 0), None, labnet.tls_context(pki["cert"], pki["key"]))
    server.RequestHandlerClass = labnet.make_handler(log, server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, log
    server.shutdown()
    server.server_close()


def _meter(standin, port, environ):
    settings = {"Eula": "accept", "Billing": "https://localhost:{0}/".format(port), "ApiKey": "unit-key"}
    return standin.Meter(settings, environ, timeout=5)


def test_metering_reaches_a_billing_endpoint_verified_by_the_given_ca(standin, billing_server, pki):
    server, log = billing_server
    _meter(standin, server.server_address[1], {"BILLING_CA_BUNDLE": pki["ca"]}).send(queries=3)
    (record,) = log.read()
    assert record["sni"] == "localhost"
    assert record["usage"]["queries"] == 3
    assert record["key_sha256"] and "unit-key" not in json.dumps(record)


def test_metering_fails_when_the_certificate_is_not_trusted(standin, billing_server):
    server, log = billing_server
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _meter(standin, server.server_address[1], {}).send(queries=0)
    assert log.read() == []


class ConnectProxy:
    """A minimal HTTP CONNECT proxy that records the requests it tunnels."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        self.requests.append(head.decode())
        host, port = head.split()[1].decode().rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY"])
def test_metering_goes_through_the_proxy_with_its_credentials(standin, billing_server, pki, variable):
    server, log = billing_server
    proxy = ConnectProxy()
    try:
        _meter(
            standin,
            server.server_address[1],
            {
                "BILLING_CA_BUNDLE": pki["ca"],
                variable: "http://127.0.0.1:{0}".format(proxy.port),
                "HTTP_PROXY_CREDS": "user:pass",
            },
        ).send(queries=1)
    finally:
        proxy.close()
    assert len(log.read()) == 1
    (connect,) = proxy.requests
    assert connect.startswith("CONNECT localhost:{0}".format(server.server_address[1]))
    assert "Proxy-Authorization: Basic dXNlcjpwYXNz" in connect


@pytest.fixture
def api(standin):
    """The stand-in's HTTP API on a loopback port, with a metering state we control."""
    clock = FakeClock()
    state = standin.MeteringState(window=5, clock=clock)
    server = ThreadingHTTPServer(("127.0.0.1", 0), standin.make_handler(state, "language"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:{0}".format(server.server_address[1]), state, clock
    server.shutdown()
    server.server_close()


def _call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


QUERY = {"documents": [{"id": "1", "text": "Hello world, this is the answer"}]}


def test_queries_are_refused_but_health_answers_while_metering_fails(api):
    base, state, clock = api
    state.record_success()
    clock.now += 6
    status, body = _call(base + "/text/analytics/v3.1/languages", QUERY)
    assert status == 503 and body["error"]["code"] == "BillingUnavailable"
    assert _call(base + "/ready")[0] == 200
    status, body = _call(base + "/status")
    assert status == 200 and body["apiStatus"] == "Invalid" and not body["serving"]


def test_queries_are_served_and_counted_while_metering_works(api):
    base, state, _clock = api
    state.record_success()
    status, body = _call(base + "/text/analytics/v3.1/languages", QUERY)
    assert status == 200
    assert body["documents"][0]["detectedLanguage"]["iso6391Name"] == "en"
    assert _call(base + "/status")[1]["apiStatus"] == "Valid"
    assert state.take_pending_queries() == 1


def test_a_malformed_query_gets_400(api):
    base, state, _clock = api
    state.record_success()
    assert _call(base + "/text/analytics/v3.1/languages", {"docs": []})[0] == 400


def test_the_metering_loop_records_failures_then_success(standin):
    state = standin.MeteringState(window=5)
    outcomes = [OSError("refused"), None]
    stop = threading.Event()

    class ScriptedMeter:
        def send(self, queries):
            outcome = outcomes.pop(0)
            if not outcomes:
                stop.set()
            if outcome:
                raise outcome

    standin.metering_loop(ScriptedMeter(), state, interval=0, stop=stop)
    snapshot = state.snapshot()
    assert snapshot["meteringFailures"] == 1 and snapshot["meteringSuccesses"] == 1
    assert state.serving()


def test_licence_download_then_disconnected_serving(standin, billing_server, pki, tmp_path):
    server, log = billing_server
    licence_dir, output_dir = tmp_path / "license", tmp_path / "output"
    licence_dir.mkdir()
    output_dir.mkdir()
    path = _meter(standin, server.server_address[1], {"BILLING_CA_BUNDLE": pki["ca"]}).download_license(
        str(licence_dir)
    )
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    state = standin.DisconnectedState(standin.load_license(str(licence_dir)), str(output_dir))
    assert state.serving() and state.snapshot()["billingStatus"] == "Disconnected"
    state.count_query()
    assert (output_dir / "usage.jsonl").read_text().count("queries") == 1
    assert log.read() == []  # a licence download is not a metering call
