"""Per-version preparation (done once) and per-message building (done for every recipient).

``prepared_version`` compiles a version's parts, rewrites its links for click tracking and builds its MIME
skeleton; versions are immutable, so the result is cached in-process by version id and never goes stale.
``message_build`` is the hot path: three renders, one or two signatures, one MIME splice.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from markupsafe import Markup

from kith.messaging import links, mime
from kith.messaging.models import TemplateVersion
from kith.messaging.rendering import CompiledPart, compile_part

# Absolute http(s) links without template syntax are tracked; links built from merge tags (and the unsubscribe
# link) are left as they are, since their target differs per recipient.
_TRACKABLE_HREF = re.compile(r'href="(https?://[^"{}<>\s]+)"', re.IGNORECASE)
# Each entry holds compiled templates and line caches (≤ 2 × 1,000 lines), so a few hundred versions at most.
_CACHE_SIZE = 128


@dataclass(frozen=True)
class PreparedVersion:
    version_id: int
    subject: CompiledPart
    html: CompiledPart | None
    text: CompiledPart | None
    links: tuple[str, ...]
    skeleton: mime.MimeSkeleton
    domain: str
    # The hidden link's index (``len(links)``) when clicks are tracked; see ``tracking_slots_insert``.
    honeypot: int | None = None
    # Encoded-line caches of the two bodies (see ``mime.qp_body``); filled by the first messages built.
    text_lines: dict[str, bytes] = field(default_factory=dict)
    html_lines: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class BuiltMessage:
    subject: str
    wire: bytes


def links_rewrite(html: str) -> tuple[str, tuple[str, ...]]:
    """Replace each trackable ``href`` with ``{{ _kith_click }}N/`` and return the targets in order."""
    targets: list[str] = []

    def swap(match: re.Match[str]) -> str:
        targets.append(match.group(1))
        return f'href="{{{{ _kith_click }}}}{len(targets) - 1}/"'

    return _TRACKABLE_HREF.sub(swap, html), tuple(targets)


# A tag without template syntax inside; the only places a line break can be added without changing the document.
_PLAIN_TAG_END = re.compile(r"<[A-Za-z/][^<>{}]*?(>)")
# Lines are broken near this length so static lines stay short and identical across recipients.
_REFLOW_AT = 40
# An attribute whose value holds template syntax (a tracked href, a merge tag in an alt text).
_DYNAMIC_ATTRIBUTE = re.compile(r'\s+([\w-]+="[^"{}<>]*\{\{[^"]*")(?=[\s>/])')


def html_reflow(html: str) -> str:
    """Break long lines inside tags (``<p class="x"\n>`` is the same element). Inlined HTML is often a single 10 KB
    line; short lines let the QP line cache reuse the static ones and keep per-recipient lines small."""
    pieces: list[str] = []
    start = 0
    since_break = 0
    for match in _PLAIN_TAG_END.finditer(html):
        end = match.start(1)
        chunk = html[start:end]
        newline = chunk.rfind("\n")
        since_break = len(chunk) - newline - 1 if newline >= 0 else since_break + len(chunk)
        pieces.append(chunk)
        start = end
        if since_break >= _REFLOW_AT:
            pieces.append("\n")
            since_break = 0
    pieces.append(html[start:])
    # Dynamic attributes on lines of their own: the per-recipient line is then just `href="…"`.
    return _DYNAMIC_ATTRIBUTE.sub(lambda m: f"\n{m.group(1)}\n", "".join(pieces))


# A link no person sees or can tab to; security gateways follow every href, so whoever follows this one is a machine.
_HONEYPOT = ('<a href="{{{{ _kith_click }}}}{index}/" style="display:none;font-size:0;line-height:0;'
             'max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true" tabindex="-1"></a>')
# Where the pixel renders: empty for a message whose opens are not tracked.
_OPEN_SLOT = "{{ _kith_open | default('') }}"
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def tracking_slots_insert(html: str, *, honeypot: int | None) -> str:
    """Add the open-pixel slot (and the honeypot link) at the end of the body, where they cannot shift layout."""
    slots = (_HONEYPOT.format(index=honeypot) if honeypot is not None else "") + _OPEN_SLOT
    match = None
    for match in _BODY_END.finditer(html):
        pass
    if match is None:
        return html + slots
    return html[:match.start()] + slots + html[match.start():]


def version_prepare(version: TemplateVersion, *, track_clicks: bool = True) -> PreparedVersion:
    """Compile and pre-build everything about ``version`` that does not depend on the recipient. With
    ``track_clicks`` off the links stay as the author wrote them (the open pixel is a slot either way)."""
    html_source, targets = links_rewrite(version.html_inlined) if track_clicks else (version.html_inlined, ())
    honeypot = len(targets) if targets else None
    if html_source.strip():
        html_source = tracking_slots_insert(html_source, honeypot=honeypot)
    if version.preheader and html_source:
        # The preview line mail clients show after the subject: hidden text at the top of the body.
        hidden = ('<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
                  f"{version.preheader}</div>")
        html_source = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + hidden, html_source, count=1, flags=re.IGNORECASE) \
            if re.search(r"<body[^>]*>", html_source, re.IGNORECASE) else hidden + html_source
    html = compile_part(html_reflow(html_source), field="html", html=True) if html_source.strip() else None
    text = compile_part(version.text, field="text", html=False) if version.text.strip() else None
    from_email = version.from_email or "no-reply@kith.localhost"
    return PreparedVersion(
        version_id=version.pk,
        subject=compile_part(version.subject, field="subject", html=False),
        html=html, text=text, links=targets, honeypot=honeypot,
        skeleton=mime.skeleton_build(from_name=version.from_name, from_email=from_email, reply_to=version.reply_to,
                                     has_text=text is not None, has_html=html is not None),
        domain=from_email.rpartition("@")[2],
    )


_prepared: dict[tuple[int, object, bool], PreparedVersion] = {}


def prepared_version(version: TemplateVersion, *, track_clicks: bool = True) -> PreparedVersion:
    """``version_prepare`` cached by version (versions never change; the cache is bounded, oldest entries go
    first). The key includes ``created_at`` so that an id reused after a database reset (test flushes, a restored
    backup) can never serve another version's content."""
    key = (version.pk, version.created_at, track_clicks)
    found = _prepared.get(key)
    if found is None:
        found = version_prepare(version, track_clicks=track_clicks)
        if len(_prepared) >= _CACHE_SIZE:
            _prepared.pop(next(iter(_prepared)))
        _prepared[key] = found
    return found


_PIXEL = ('<img src="{url}" width="1" height="1" alt="" '
          'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">')


def message_build(prepared: PreparedVersion, *, message_id: int, to_name: str, to_address: str,
                  context: dict[str, Any], marketing: bool, track_opens: bool = True) -> BuiltMessage:
    """Render and encode one message: the signed unsubscribe link is ``unsubscribe_url`` in the template, and
    marketing messages get the RFC 8058 headers. Click tracking follows ``prepared`` (see ``prepared_version``);
    the open pixel is added when ``track_opens``. Raises ``TemplateRenderError``."""
    context = dict(context)
    # Every message may link to the unsubscribe page (a receipt may offer "stop marketing e-mail"), but only
    # marketing messages carry the one-click headers: mailbox providers show those as an "Unsubscribe" button.
    unsubscribe = links.unsubscribe_url(message_id=message_id)
    context["unsubscribe_url"] = unsubscribe
    headers = links.unsubscribe_headers(unsubscribe) if marketing else []
    token = links.tracking_token(message_id=message_id) if prepared.links or track_opens else ""
    if prepared.links:
        context["_kith_click"] = Markup(links.click_base(message_id=message_id, token=token))
    context["_kith_open"] = Markup(_PIXEL.format(url=links.open_url(message_id=message_id, token=token))) \
        if track_opens else ""
    subject = prepared.subject.render(context, max_chars=998).strip()
    html = prepared.html.render(context) if prepared.html is not None else ""
    text = prepared.text.render(context) if prepared.text is not None else ""
    wire = mime.message_bytes(
        prepared.skeleton, to=mime.address(to_name, to_address), subject=subject,
        message_id=f"<{message_id}.{secrets.token_hex(6)}@{prepared.domain}>", date=formatdate(usegmt=True),
        text=text, html=html, headers=headers, text_cache=prepared.text_lines, html_cache=prepared.html_lines,
    )
    return BuiltMessage(subject=subject, wire=wire)


_version_links: dict[tuple[int, object], tuple[str, ...]] = {}


def version_links(*, version_id: int, created_at: object) -> tuple[str, ...]:
    """The tracked-link targets of a version (what ``t/<token>/<n>/`` redirects to), cached per process like
    ``prepared_version``; a miss reads the version once."""
    key = (version_id, created_at)
    found = _version_links.get(key)
    if found is None:
        found = links_rewrite(TemplateVersion.objects.only("html_inlined").get(pk=version_id).html_inlined)[1]
        if len(_version_links) >= _CACHE_SIZE * 8:
            _version_links.pop(next(iter(_version_links)))
        _version_links[key] = found
    return found
