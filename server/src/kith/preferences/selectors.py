"""Reads of the preference centre, and the two send-time rules campaign and transactional code call.

``marketing_recipients`` is set-based (one query with ``EXISTS`` sub-selects) so a campaign's fan-out can use it as
the source of an ``INSERT … SELECT``; ``transactional_allowed`` is the per-message check of the send path.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from kith.accounts.models import Workspace
from kith.contacts.models import ConsentState, Contact
from kith.core.errors import NotFound
from kith.messaging.models import Suppression, SuppressionReason
from kith.preferences.models import Topic, TopicSubscription
from kith.preferences.tokens import preferences_token_read

# Suppressions that also stop transactional mail: the address does not exist or its owner reported us as spam.
# An unsubscribe, a manual or an imported entry only stops marketing (receipts and password resets still go).
TRANSACTIONAL_BLOCKING_REASONS = (SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT)


def topic_list(*, workspace: Workspace, include_archived: bool = False) -> QuerySet[Topic]:
    queryset = Topic.objects.for_workspace(workspace)
    if not include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    return queryset.order_by("name", "id")


def topic_get(*, workspace: Workspace, topic_id: int) -> Topic:
    try:
        return Topic.objects.for_workspace(workspace).get(pk=topic_id)
    except Topic.DoesNotExist as exc:
        raise NotFound("No such topic.", field="topic") from exc


def marketing_recipients(*, workspace: Workspace, topic: Topic | None = None) -> QuerySet[Contact]:
    """Contacts who may receive marketing e-mail (on ``topic``, when given): they have an address, have not opted
    out of e-mail, their address is not on the suppression list (any reason), and they did not opt out of the topic
    (or, for a topic that is off by default, they opted in). An archived topic has no recipients.

    One query; callers add their own audience filter (a segment) and batch by primary key."""
    suppressed = Suppression.objects.filter(workspace=workspace, address=OuterRef("email"))
    queryset = (Contact.objects.filter(workspace=workspace).exclude(email="")
                .exclude(email_consent=ConsentState.OPTED_OUT).exclude(Exists(suppressed)))
    if topic is None:
        return queryset
    if topic.workspace_id != workspace.pk or topic.is_archived:
        return queryset.none()
    if topic.default_subscribed:
        opted_out = TopicSubscription.objects.filter(topic=topic, contact=OuterRef("pk"), subscribed=False)
        return queryset.exclude(Exists(opted_out))
    opted_in = TopicSubscription.objects.filter(topic=topic, contact=OuterRef("pk"), subscribed=True)
    return queryset.filter(Exists(opted_in))


def transactional_allowed(*, workspace: Workspace, address: str) -> bool:
    """Whether a transactional message may go to ``address``: topic opt-outs and unsubscribes do not matter, a hard
    bounce or a complaint does."""
    return not Suppression.objects.filter(workspace=workspace, address=address.strip().lower(),
                                          reason__in=TRANSACTIONAL_BLOCKING_REASONS).exists()


@dataclass(frozen=True)
class TopicChoice:
    topic: Topic
    subscribed: bool


@dataclass(frozen=True)
class ContactPreferences:
    workspace: Workspace
    contact: Contact
    topics: list[TopicChoice]
    # Unsubscribed from all marketing (an opt-out or a suppression of the address).
    unsubscribed: bool
    # Why the address is suppressed, when it is; only an ``unsubscribe`` can be undone by the contact.
    suppression_reason: str


def preferences_for_token(*, token: str) -> ContactPreferences:
    """The preference page of the contact a genuine token names; ``NotFound`` for a forged token or a contact that
    no longer exists (both are a 404 to the visitor)."""
    ids = preferences_token_read(token)
    contact = (Contact.objects.select_related("workspace").filter(workspace_id=ids[0], pk=ids[1]).first()
               if ids else None)
    if contact is None:
        raise NotFound("No such page.")
    return contact_preferences(workspace=contact.workspace, contact=contact)


def contact_preferences(*, workspace: Workspace, contact: Contact) -> ContactPreferences:
    chosen = dict(TopicSubscription.objects.filter(contact=contact).values_list("topic_id", "subscribed"))
    topics = [TopicChoice(topic=topic, subscribed=chosen.get(topic.pk, topic.default_subscribed))
              for topic in topic_list(workspace=workspace)]
    reason = (Suppression.objects.filter(workspace=workspace, address=contact.email)
              .values_list("reason", flat=True).first() or "") if contact.email else ""
    return ContactPreferences(workspace=workspace, contact=contact, topics=topics,
                              unsubscribed=bool(reason) or contact.email_consent == ConsentState.OPTED_OUT,
                              suppression_reason=reason)


def suppression_list(*, workspace: Workspace, search: str = "") -> QuerySet[Suppression]:
    queryset = Suppression.objects.for_workspace(workspace)
    if search:
        queryset = queryset.filter(Q(address__contains=search.strip().lower()))
    return queryset.order_by("-id")


def suppression_get(*, workspace: Workspace, suppression_id: int) -> Suppression:
    try:
        return Suppression.objects.for_workspace(workspace).get(pk=suppression_id)
    except Suppression.DoesNotExist as exc:
        raise NotFound("No such suppression.", field="suppression") from exc
