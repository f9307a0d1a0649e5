"""Django admin for the imported customer data. Lists stay fast on millions of rows: related
objects are fetched in the list query and big tables skip the full COUNT(*)."""

from django.contrib import admin

from .models import Customer, Order, OrderLine, Product, Ticket


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "email", "company", "signed_up_on", "account_manager"]
    list_filter = ["account_manager"]
    search_fields = ["external_id", "name", "email"]
    list_select_related = ["account_manager"]
    autocomplete_fields = ["account_manager"]
    show_full_result_count = False
    ordering = ["external_id"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "launched_on"]
    list_filter = ["category"]
    search_fields = ["sku", "name", "category"]
    date_hierarchy = "launched_on"


class OrderLineInline(admin.TabularInline):
    """Lines come from the import; their customer and date are copies of the order's."""

    model = OrderLine
    fields = ["product", "quantity", "amount", "cost"]
    readonly_fields = ["product"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["order_id", "customer", "placed_at"]
    search_fields = ["order_id", "customer__external_id"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    inlines = [OrderLineInline]
    show_full_result_count = False

    def save_related(self, request, form, formsets, change):
        """Keep the lines' copies of customer and date in step when an admin edits the order."""
        super().save_related(request, form, formsets, change)
        order = form.instance
        order.lines.exclude(customer=order.customer, placed_at=order.placed_at).update(
            customer=order.customer, placed_at=order.placed_at
        )


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["ticket_id", "customer", "opened_at", "kind", "outcome", "compensation"]
    list_filter = ["kind", "outcome"]
    search_fields = ["ticket_id", "customer__external_id"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False
