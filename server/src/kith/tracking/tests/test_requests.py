"""The request half: open pixel and click redirect on signed URLs, recorded with one INSERT."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kith.messaging import links
from kith.messaging.views import PIXEL_GIF
from kith.tracking.models import Hit, HitKind
from kith.tracking.recording import hit_record
from kith.tracking.tests.helpers import path_of, sent_message

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


@pytest.fixture
def message(personas):
    return sent_message(workspace=personas.acme)


def test_the_open_pixel_answers_a_gif_and_records_one_hit_with_one_insert(message):
    url = path_of(links.open_url(message_id=message.pk))
    with CaptureQueriesContext(connection) as queries:
        response = Client(HTTP_USER_AGENT=IPHONE).get(url, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response.content == PIXEL_GIF and PIXEL_GIF.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    assert len(queries) <= 2
    # One statement, the INSERT (on PostgreSQL prefixed by the CTE that skips the WAL-flush wait).
    [insert] = [q["sql"] for q in queries.captured_queries]
    assert "INSERT INTO tracking_hit" in insert and "SELECT" not in insert.split("INSERT")[0].replace(
        "SELECT set_config", "")
    hit = Hit.objects.get()
    assert (hit.message_id, hit.kind, hit.client_kind, hit.ip_flag) == (message.pk, HitKind.OPEN, "mobile", "")
    assert hit.user_agent == IPHONE


def test_a_click_redirects_to_the_stored_target_with_one_read_and_one_insert(message):
    base = path_of(links.click_base(message_id=message.pk))
    Client().head(f"{base}1/")  # warms the per-process link cache; HEAD records nothing
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(f"{base}1/?next=https://evil.example/", REMOTE_ADDR="40.92.1.1")
    assert response.status_code == 302 and response["Location"] == "https://shop.example.com/sale"
    assert len(queries) <= 2
    hit = Hit.objects.get()
    assert (hit.kind, hit.link_index, hit.ip_flag) == (HitKind.CLICK, 1, "scanner")


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature altered
    lambda token: str(int(token.split(":")[0]) + 1) + ":" + token.split(":")[1],  # another message id
    lambda token: "not-a-token",
])
def test_a_tampered_token_is_a_404_and_records_nothing(message, mangle):
    token = mangle(links.tracking_token(message_id=message.pk))
    assert Client().get(f"/o/{token}/").status_code == 404
    assert Client().get(f"/t/{token}/0/").status_code == 404
    assert not Hit.objects.exists()


def test_no_index_or_parameter_turns_a_click_into_an_open_redirect(message):
    base = path_of(links.click_base(message_id=message.pk))
    assert Client().get(f"{base}3/").status_code == 404  # past the honeypot
    assert Client().get(f"{base}99999/").status_code == 404
    assert Client().get(f"{base}-1/").status_code == 404
    assert Client().get(f"{base}https%3A%2F%2Fevil.example/").status_code == 404
    assert Client().get(f"{base}{'9' * 5000}/").status_code == 404  # no int() blow-up, no 500
    assert Client().get(f"/o/{'x' * 5000}/").status_code == 404
    response = Client().get(f"{base}0/?url=https://evil.example/&next=//evil.example")
    assert response["Location"] == "https://shop.example.com/new"


def test_the_honeypot_link_is_recorded_and_answers_no_content(message):
    base = path_of(links.click_base(message_id=message.pk))
    response = Client().get(f"{base}2/")  # the version has two links; index 2 is the hidden one
    assert response.status_code == 204 and not response.has_header("Location")
    assert Hit.objects.get().kind == HitKind.HONEYPOT


def test_the_pixel_skips_session_and_csrf_work(message, personas):
    """A mail client sends no cookies worth reading; a stray session cookie must not cost a session lookup."""
    client = Client()
    client.force_login(personas.alice)
    url = path_of(links.open_url(message_id=message.pk))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(queries) == 1
    assert not response.cookies


@pytest.mark.django_db(transaction=True)
def test_only_the_hit_itself_skips_the_wal_flush_wait(personas):
    """On PostgreSQL the hit's INSERT commits asynchronously; the connection's later writes (the message ledger,
    anything else) must still wait for durability."""
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    message = sent_message(workspace=personas.acme)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        before = cursor.fetchone()[0]
        hit_record(message_id=message.pk, kind=HitKind.OPEN, user_agent="", ip=None)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == before == "on"
    assert Hit.objects.count() == 1
