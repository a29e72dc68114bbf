from django.contrib import admin

from cars.models import Car, Customer, Purchase


@admin.register(Car)
class CarAdmin(admin.ModelAdmin):
    list_display = ("brand", "model", "color", "price")


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("__str__", "phone", "sms_opt_in", "welcomed_at", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__first_name", "user__last_name")


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "car", "total", "is_complete", "abandoned_at", "created_dt")
    list_filter = ("is_complete",)
    list_select_related = ("customer__user", "car")
