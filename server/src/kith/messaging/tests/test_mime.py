"""The fast MIME builder, checked by parsing its bytes back with the stdlib parser."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from kith.messaging import mime


def _parse(wire: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(wire, policy=email.policy.default)  # type: ignore[return-value]


def _build(**overrides: object) -> bytes:
    skeleton = mime.skeleton_build(from_name="Kith Team", from_email="team@kith.test", reply_to="help@kith.test")
    values: dict[str, object] = {
        "to": mime.address("Ada Lovelace", "ada@example.com"), "subject": "Hello Ada",
        "message_id": "<1.abc@kith.test>", "date": "Sun, 22 Nov 2026 01:00:00 GMT",
        "text": "Hello Ada\nSecond line", "html": "<p>Hello <b>Ada</b></p>",
        "headers": [("List-Unsubscribe", "<https://kith.test/u/1:x/>"),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")],
    }
    values.update(overrides)
    return mime.message_bytes(skeleton, **values)  # type: ignore[arg-type]


def test_a_message_parses_back_as_multipart_alternative_with_both_parts():
    message = _parse(_build())
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Kith Team <team@kith.test>"
    assert message["Reply-To"] == "help@kith.test"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Subject"] == "Hello Ada"
    assert message["Message-ID"] == "<1.abc@kith.test>"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text.get_content().replace("\r\n", "\n") == "Hello Ada\nSecond line\n"
    assert html.get_content().strip() == "<p>Hello <b>Ada</b></p>"
    assert message.defects == [] and all(part.defects == [] for part in message.walk())


def test_one_click_unsubscribe_headers_are_present():
    message = _parse(_build())
    assert message["List-Unsubscribe"] == "<https://kith.test/u/1:x/>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_non_ascii_subject_and_names_are_encoded_per_rfc_2047_and_decode_back():
    wire = _build(subject="Grüße, Zoë — 50 % off ☃", to=mime.address("Zoë Ølberg", "zoe@example.com"))
    raw_headers = wire.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()
    assert b"=?utf-8?" in raw_headers
    message = _parse(wire)
    assert message["Subject"] == "Grüße, Zoë — 50 % off ☃"
    assert message["To"].addresses[0].display_name == "Zoë Ølberg"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"


def test_non_ascii_bodies_round_trip_and_every_line_is_short_with_crlf():
    long_line = "Ünïcödé " * 40 + "end"
    wire = _build(text=long_line, html=f"<p>{long_line}</p>")
    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78
    message = _parse(wire)
    assert message.get_body(("plain",)).get_content().rstrip("\r\n") == long_line
    assert long_line in message.get_body(("html",)).get_content()


def test_merge_data_cannot_inject_headers():
    message = _parse(_build(subject="Hi\r\nBcc: victim@example.com", to=mime.address("A\nBcc: x@y", "a@b.test")))
    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: victim@example.com"


def test_a_body_cannot_contain_the_boundary():
    skeleton = mime.skeleton_build(from_name="", from_email="a@kith.test")
    boundary = re.search(rb'boundary="([^"]+)"', skeleton.fixed_headers).group(1)  # type: ignore[union-attr]
    wire = mime.message_bytes(skeleton, to="a@b.test", subject="S", message_id="<x@y>", date="Sun, 22 Nov 2026 "
                              "01:00:00 GMT", text=f"--{boundary.decode()}\n", html=f"--{boundary.decode()}--")
    # The '=' of the boundary is encoded as '=3D' in a body, so only the three real delimiters carry it.
    assert wire.count(b"--" + boundary) == 3
    message = _parse(wire)
    assert len(list(message.walk())) == 3
    assert message.get_body(("plain",)).get_content().startswith(f"--{boundary.decode()}")


def test_long_ascii_subjects_are_folded_and_unfold_to_the_original():
    subject = " ".join(["word"] * 60)
    wire = _build(subject=subject)
    assert max(len(line) for line in wire.split(b"\r\n\r\n", 1)[0].split(b"\r\n")) <= 78
    assert _parse(wire)["Subject"] == subject


@pytest.mark.parametrize(("has_text", "has_html", "content_type"),
                         [(True, False, "text/plain"), (False, True, "text/html")])
def test_single_part_messages(has_text: bool, has_html: bool, content_type: str):
    skeleton = mime.skeleton_build(from_name="K", from_email="k@kith.test", has_text=has_text, has_html=has_html)
    wire = mime.message_bytes(skeleton, to="a@b.test", subject="S", message_id="<x@y>", date="Sun, 22 Nov 2026 "
                              "01:00:00 GMT", text="plain body", html="<p>html body</p>")
    message = _parse(wire)
    assert message.get_content_type() == content_type
    assert ("plain body" if has_text else "html body") in message.get_content()


def test_idn_domains_are_encoded_and_utf8_local_parts_refused():
    assert mime.address("", "a@bücher.example") == "a@xn--bcher-kva.example"
    with pytest.raises(ValueError, match="SMTPUTF8"):
        mime.address("", "jörg@example.com")
