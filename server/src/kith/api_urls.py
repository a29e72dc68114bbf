"""Every REST route under /api/v1/. Each app contributes its router registrations here."""

from rest_framework.routers import DefaultRouter

from kith.accounts import api as accounts_api
from kith.campaigns import api as campaigns_api
from kith.contacts import api as contacts_api
from kith.deals import api as deals_api
from kith.events import api as events_api
from kith.imports import api as imports_api
from kith.messaging import api as messaging_api
from kith.search import api as search_api
from kith.preferences import api as preferences_api
from kith.segments import api as segments_api
from kith.drips import api as drips_api
from kith.tasks import api as tasks_api
from kith.timeline import api as timeline_api
from kith.webhooks import api as webhooks_api
from kith.workflows import api as workflows_api
from kith.inbound import api as inbound_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
accounts_api.register(router)
contacts_api.register(router)
deals_api.register(router)
events_api.register(router)
imports_api.register(router)
messaging_api.register(router)
preferences_api.register(router)
tasks_api.register(router)
timeline_api.register(router)
segments_api.register(router)
campaigns_api.register(router)
drips_api.register(router)
webhooks_api.register(router)
workflows_api.register(router)
inbound_api.register(router)

urlpatterns = [*accounts_api.urlpatterns, *search_api.urlpatterns, *contacts_api.urlpatterns, *router.urls]
