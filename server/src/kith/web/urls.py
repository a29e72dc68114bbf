from django.templatetags.static import static
from django.urls import path
from django.views.generic import RedirectView

from kith.contacts.views import companies, contacts, inline
from kith.contacts.views import merge as contact_merges
from kith.deals import views as deals
from kith.imports import views as imports
from kith.messaging.ui import editor as message_templates
from kith.messaging.ui import inbox as dev_inbox
from kith.preferences import manage_views as preferences
from kith.savedviews import views as savedviews
from kith.search import views as search
from kith.segments import views as segments
from kith.tasks import views as tasks
from kith.timeline import views as timeline
from kith.web.views import api_keys, audit, delivery, exports, invitations, members, workspaces

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
    path("settings/delivery/", delivery.delivery_settings, name="delivery_settings"),
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
    path("contacts/export/", exports.contact_export, name="contact_export"),
    path("companies/export/", exports.company_export, name="company_export"),
    path("deals/export/", exports.deal_export, name="deal_export"),
    path("views/save/", savedviews.saved_view_save, name="saved_view_save"),
    path("views/<int:pk>/delete/", savedviews.saved_view_delete, name="saved_view_delete"),
    path("contacts/duplicates/", contact_merges.duplicate_list, name="contact_duplicates"),
    path("contacts/duplicates/dismiss/", contact_merges.duplicate_dismiss, name="contact_duplicates_dismiss"),
    path("contacts/<int:pk>/duplicates/", contact_merges.contact_duplicates_panel, name="contact_duplicates_panel"),
    path("contacts/<int:pk>/merge/", contact_merges.contact_merge, name="contact_merge"),
    path("contacts/merges/<int:pk>/", contact_merges.merge_detail, name="contact_merge_detail"),
    path("contacts/merges/<int:pk>/undo/", contact_merges.merge_undo, name="contact_merge_undo"),
    path("contacts/<int:pk>/", contacts.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/fields/<str:name>/", inline.contact_field, name="contact_field"),
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
    path("deals/board-version/", deals.deal_board_version, name="deal_board_version"),
    path("deals/list/", deals.deal_list, name="deal_list"),
    path("deals/new/", deals.deal_create, name="deal_create"),
    path("deals/<int:pk>/", deals.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/edit/", deals.deal_edit, name="deal_edit"),
    path("deals/<int:pk>/move/", deals.deal_move, name="deal_move"),
    path("deals/convert/<int:contact_id>/", deals.deal_convert, name="deal_convert"),
    path("deals/<int:pk>/activities/", timeline.deal_activity_log, name="deal_activity_log"),
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_create, name="segment_create"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_edit, name="segment_edit"),
    path("tasks/", tasks.my_tasks, name="my_tasks"),
    path("tasks/new/", tasks.task_create, name="task_create"),
    path("tasks/<int:pk>/", tasks.task_edit, name="task_edit"),
    path("tasks/<int:pk>/complete/", tasks.task_complete, name="task_complete"),
    path("tasks/<int:pk>/reopen/", tasks.task_reopen, name="task_reopen"),
    path("tasks/<int:pk>/delete/", tasks.task_delete, name="task_delete"),
    path("notifications/", tasks.notification_list, name="notification_list"),
    path("notifications/bell/", tasks.notification_bell, name="notification_bell"),
    path("notifications/read-all/", tasks.notification_read_all, name="notification_read_all"),
    path("notifications/<int:pk>/read/", tasks.notification_read, name="notification_read"),
    path("search/", search.search, name="search"),
    path("search/suggest/", search.search_suggest, name="search_suggest"),
    path("settings/topics/", preferences.topic_list, name="topic_list"),
    path("settings/topics/new/", preferences.topic_create, name="topic_create"),
    path("settings/topics/<int:pk>/edit/", preferences.topic_edit, name="topic_edit"),
    path("settings/topics/<int:pk>/archive/", preferences.topic_archive, name="topic_archive"),
    path("messaging/suppressions/", preferences.suppression_list, name="suppression_list"),
    path("messaging/suppressions/import/", preferences.suppression_import, name="suppression_import"),
    path("messaging/suppressions/<int:pk>/remove/", preferences.suppression_remove, name="suppression_remove"),
    path("messaging/templates/", message_templates.template_list, name="template_list"),
    path("messaging/templates/new/", message_templates.template_create, name="template_create"),
    path("messaging/templates/preview/", message_templates.template_preview, name="template_preview"),
    path("messaging/templates/<int:pk>/", message_templates.template_edit, name="template_edit"),
    path("messaging/templates/<int:pk>/test/", message_templates.template_send_test, name="template_send_test"),
    path("dev/inbox/", dev_inbox.dev_inbox, name="dev_inbox"),
    path("dev/inbox/<int:message_id>/", dev_inbox.dev_inbox_message, name="dev_inbox_message"),
    path("dev/inbox/<int:message_id>/html/", dev_inbox.dev_inbox_html, name="dev_inbox_html"),
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_upload, name="import_upload"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/cancel/", imports.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/resume/", imports.import_resume, name="import_resume"),
    path("imports/<int:pk>/errors.csv", imports.import_error_report, name="import_error_report"),
    path("invitations/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    # Browsers ask for /favicon.ico whatever the page links to; answer with the SVG instead of a 404.
    path("favicon.ico", FaviconRedirect.as_view(), name="favicon"),
]
