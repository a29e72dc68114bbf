"""REST API of the contacts app: /api/v1/contacts/, /companies/, /tags/ and /custom-fields/."""

from rest_framework.routers import BaseRouter

from kith.contacts.api.merge import ContactMergeViewSet
from kith.contacts.api.merge import urlpatterns as merge_urlpatterns
from kith.contacts.api.views import CompanyViewSet, ContactViewSet, CustomFieldViewSet, TagViewSet

# Explicit paths (duplicates, merge) that the router's contact routes do not produce; kith.api_urls includes them.
urlpatterns = [*merge_urlpatterns]


def register(router: BaseRouter) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("companies", CompanyViewSet, basename="company")
    router.register("tags", TagViewSet, basename="tag")
    router.register("custom-fields", CustomFieldViewSet, basename="custom-field")
    router.register("contact-merges", ContactMergeViewSet, basename="contact-merge")
