"""https endpoints: the connection goes to the vetted IP, yet the certificate is checked for the URL's host name
(SNI), so pinning the address never weakens TLS."""

import http.server
import socket
import ssl
import subprocess
import threading

import pytest

from kith.webhooks import network
from kith.webhooks.models import DeliveryStatus, WebhookDelivery
from kith.webhooks.services import webhook_emit, webhook_endpoint_create

pytestmark = pytest.mark.django_db

HOST = "hooks.customer.test"


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _Handler.seen.append(self.headers["Host"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_receiver(tmp_path, settings, monkeypatch):
    settings.KITH_WEBHOOKS_ALLOW_PRIVATE = True
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **k: real("127.0.0.1" if host == HOST else host, *a, **k))
    _Handler.seen = []
    yield server.server_address[1], str(cert)
    server.shutdown()
    server.server_close()


def _deliver(personas, url, django_capture_on_commit_callbacks):
    webhook_endpoint_create(workspace=personas.acme, actor=personas.alice, url=url, event_types=["*"])
    with django_capture_on_commit_callbacks(execute=True):
        webhook_emit(workspace=personas.acme, event_type="contact.created", data={})
    return WebhookDelivery.objects.get()


def test_https_delivery_verifies_the_certificate_for_the_host_name(
    personas, tls_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    port, ca = tls_receiver
    monkeypatch.setattr(network, "CA_CERTS", ca)
    delivery = _deliver(personas, f"https://{HOST}:{port}/hook", django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.SUCCEEDED, delivery.error
    assert _Handler.seen == [f"{HOST}:{port}"]


def test_an_untrusted_certificate_fails_the_attempt(personas, tls_receiver, django_capture_on_commit_callbacks):
    port, _ = tls_receiver
    delivery = _deliver(personas, f"https://{HOST}:{port}/hook", django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.FAILED and "SSL" in delivery.error and _Handler.seen == []


def test_a_certificate_for_another_name_fails_the_attempt(
    personas, tls_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    port, ca = tls_receiver
    monkeypatch.setattr(network, "CA_CERTS", ca)
    delivery = _deliver(personas, f"https://127.0.0.1:{port}/hook", django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.FAILED and _Handler.seen == []
