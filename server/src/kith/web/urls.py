from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from kith.contacts.views import companies, contacts
from kith.deals import views as deals
from kith.web.views import api_keys, audit, invitations, members, workspaces

app_name = "web"


class FaviconRedirect(RedirectView):
    """Resolves the static URL per request: at import time the production manifest may not exist yet (a management
    command run before collectstatic would fail)."""

    permanent = True

    def get_redirect_url(self, *args: object, **kwargs: object) -> str:
        return static("kith/favicon.svg")

urlpatterns = [
    path("", workspaces.home, name="home"),
    path("workspaces/new/", workspaces.workspace_create, name="workspace_create"),
    path("workspaces/switch/", workspaces.workspace_switch, name="workspace_switch"),
    path("settings/", workspaces.workspace_settings, name="workspace_settings"),
    path("settings/members/", members.members, name="members"),
    path("settings/members/<int:pk>/role/", members.member_role, name="member_role"),
    path("settings/members/<int:pk>/remove/", members.member_remove, name="member_remove"),
    path("settings/invitations/<int:pk>/revoke/", members.invitation_revoke, name="invitation_revoke"),
    path("settings/api-keys/", api_keys.api_keys, name="api_keys"),
    path("settings/api-keys/new/", api_keys.api_key_create, name="api_key_create"),
    path("settings/api-keys/<int:pk>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
    path("settings/audit-log/", audit.audit_log, name="audit_log"),
    path("contacts/", contacts.contact_list, name="contact_list"),
    path("contacts/new/", contacts.contact_create, name="contact_create"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", contacts.contact_delete, name="contact_delete"),
    path("contacts/<int:pk>/timeline/", contacts.contact_timeline, name="contact_timeline"),
    path("contacts/<int:pk>/activities/", contacts.contact_activity_log, name="contact_activity_log"),
    path("contacts/<int:pk>/tags/", contacts.contact_tags_add, name="contact_tags_add"),
    path("contacts/<int:pk>/tags/remove/", contacts.contact_tag_remove, name="contact_tag_remove"),
    path("companies/", companies.company_list, name="company_list"),
    path("companies/new/", companies.company_create, name="company_create"),
    path("companies/<int:pk>/", companies.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", companies.company_edit, name="company_edit"),
    path("companies/<int:pk>/activities/", companies.company_activity_log, name="company_activity_log"),
    path("deals/", deals.deal_board, name="deal_board"),
    path("deals/list/", deals.deal_list, name="deal_list"),
    path("deals/new/", deals.deal_create, name="deal_create"),
    path("deals/<int:pk>/", deals.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", deals.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", deals.deal_move, name="deal_move"),
    path("deals/convert/<int:contact_id>/", deals.deal_convert, name="deal_convert"),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    # Browsers ask for /favicon.ico whatever the page links to; answer with the SVG instead of a 404.
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
]
