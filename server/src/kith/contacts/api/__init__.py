"""REST API of the contacts app: /api/v1/contacts/, /companies/, /tags/ and /custom-fields/."""

from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CompanyViewSet, ContactViewSet, CustomFieldViewSet, TagViewSet


def register(router: BaseRouter) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("companies", CompanyViewSet, basename="company")
    router.register("tags", TagViewSet, basename="tag")
    router.register("custom-fields", CustomFieldViewSet, basename="custom-field")
