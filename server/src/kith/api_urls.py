"""Every REST route under /api/v1/. Each app contributes its router registrations here."""

from rest_framework.routers import DefaultRouter

from kith.accounts import api as accounts_api
from kith.contacts import api as contacts_api
from kith.deals import api as deals_api
from kith.messaging import api as messaging_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
accounts_api.register(router)
contacts_api.register(router)
deals_api.register(router)
messaging_api.register(router)

urlpatterns = [*accounts_api.urlpatterns, *router.urls]
