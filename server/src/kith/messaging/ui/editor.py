"""Template pages: list, create and edit e-mail and SMS templates with a live preview against a real contact,
version history, and "send test to me". Thin: forms check shape, ``preview`` renders and saves."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from kith.contacts import selectors as contact_selectors
from kith.contacts.models import Contact
from kith.contacts.views._common import require_writer
from kith.core.errors import KithError, NotFound
from kith.messaging import selectors
from kith.messaging.models import Channel, Template
from kith.messaging.ui import preview as editor
from kith.messaging.ui.forms import EmailTemplateForm, SmsTemplateForm, editor_form
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
    with_toast,
)

# The contact picker lists the newest contacts with an address; a select of 100 stays usable without a search.
PICKER_SIZE = 100
VERSION_HISTORY = 50


def _template(request: MemberRequest, pk: int) -> Template:
    return selectors.template_get(workspace=request.workspace, template_id=pk)


def _contact(request: MemberRequest, raw: str | None) -> Contact | None:
    """The contact to preview with: one the member may see, or None (the sample contact)."""
    if not raw or not raw.isdigit() or len(raw) > 18:
        return None
    try:
        return contact_selectors.contact_get(workspace=request.workspace, membership=request.membership,
                                             contact_id=int(raw))
    except NotFound:
        return None


def _picker(request: MemberRequest) -> list[Contact]:
    contacts = contact_selectors.contact_list(workspace=request.workspace, membership=request.membership)
    return list(contacts.exclude(email="").order_by("-id")[:PICKER_SIZE])


@member_required
@require_GET
def template_list(request: MemberRequest) -> HttpResponse:
    templates = (Template.objects.for_workspace(request.workspace).select_related("current_version")
                 .order_by("name"))
    return render(request, "messaging/ui/template_list.html",
                  {"templates": templates, "can_write": request.membership.can_write})


def _errors_to_form(form: EmailTemplateForm | SmsTemplateForm, problems: list[Any]) -> None:
    for problem in problems:
        add_domain_error(form, problem)


def _editor(request: MemberRequest, template: Template | None, channel: str) -> HttpResponse:
    form_class = editor_form(channel)
    version = template.current_version if template is not None else None
    initial = {"name": template.name if template else "", **editor.version_content(version)}
    form = form_class(posted(request), initial=initial)
    contact = _contact(request, request.POST.get("preview_contact") or request.GET.get("contact"))
    if request.method == "POST":
        require_writer(request)
        if form.is_valid():
            data = form.cleaned_data
            problems = editor.template_preview(workspace=request.workspace, content=data, contact=contact,
                                               channel=channel).errors
            _errors_to_form(form, problems)
            if not problems:
                try:
                    saved = editor.template_save(workspace=request.workspace, actor=request.user, template=template,
                                                 name=data["name"], channel=channel, content=data)
                except KithError as exc:
                    add_domain_error(form, exc)
                else:
                    number = saved.current_version.number if saved.current_version else 1
                    messages.success(request, f"“{saved.name}” saved as version {number}.")
                    url = reverse("web:template_edit", args=[saved.pk])
                    return redirect(f"{url}?contact={contact.pk}" if contact else url)
    content = form.data if form.is_bound else initial
    preview = editor.template_preview(workspace=request.workspace, content=content, contact=contact, channel=channel)
    versions = list(template.versions.order_by("-number")[:VERSION_HISTORY]) if template else []
    context = {"form": form, "template": template, "channel": channel, "preview": preview, "contact": contact,
               "contacts": _picker(request), "versions": versions, "can_write": request.membership.can_write,
               "current_version": version}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "messaging/ui/template_form.html", context, status=status)


@member_required
def template_create(request: MemberRequest) -> HttpResponse:
    require_writer(request)
    channel = Channel.SMS if request.GET.get("channel") == Channel.SMS else Channel.EMAIL
    return _editor(request, None, channel)


@member_object_view
def template_edit(request: MemberRequest, pk: int) -> HttpResponse:
    template = _template(request, pk)
    return _editor(request, template, template.channel)


@member_required
@require_POST
def template_preview(request: MemberRequest) -> HttpResponse:
    """The live preview (HTMX): the editor posts its unsaved fields here on every pause in typing. Renders only;
    nothing is saved, so viewers may use it too."""
    channel = Channel.SMS if request.POST.get("channel") == Channel.SMS else Channel.EMAIL
    form = editor_form(channel)(request.POST)
    form.is_valid()  # field lengths are checked; the preview renders what there is
    content = {name: request.POST.get(name, "")[:200_000] for name in form.fields}
    contact = _contact(request, request.POST.get("preview_contact"))
    preview = editor.template_preview(workspace=request.workspace, content=content, contact=contact, channel=channel)
    return render(request, "messaging/ui/_preview.html", {"preview": preview, "channel": channel,
                                                          "contact": contact})


@member_object_view
def template_send_test(request: MemberRequest, pk: int) -> HttpResponse:
    """GET confirms (works without JS), POST queues the saved version to the member's own address."""
    template = _template(request, pk)
    contact = _contact(request, request.POST.get("preview_contact") or request.GET.get("contact"))
    if request.method == "GET":
        return render_confirm(request, title="Send a test to yourself?",
                              message=f"The saved version of “{template.name}”, rendered for "
                                      f"{contact.full_name if contact else 'the chosen contact'}, goes to "
                                      f"{request.user.email}.", confirm_label="Send test",
                              cancel_url=reverse("web:template_edit", args=[template.pk]), tone="primary")
    if request.method != "POST":
        raise Http404("No such page.")
    require_writer(request)
    back = reverse("web:template_edit", args=[template.pk]) + (f"?contact={contact.pk}" if contact else "")
    error = ""
    if contact is None:
        error = "Choose a contact to render the test for."
    else:
        try:
            editor.template_send_test(template=template, actor=request.user, contact=contact)
        except KithError as exc:
            error = exc.message
    if request.htmx:
        text = error or f"Test sent to {request.user.email}."
        response = render(request, "messaging/ui/_test_status.html", {"error": error, "text": text})
        return with_toast(response, text, "danger" if error else "success")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Test sent to {request.user.email}.")
    return redirect(back)
