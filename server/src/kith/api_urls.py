"""Every REST route under /api/v1/. Each app contributes its router registrations here."""

from rest_framework.routers import DefaultRouter

from kith.accounts import api as accounts_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
accounts_api.register(router)

urlpatterns = router.urls
