from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("marketing/", views.marketing_home, name="marketing"),
    path("tiers/", views.tier_list, name="tier_list"),
    path("tiers/<int:level>/", views.tier_list, name="tier_list_level"),
    path("tiers/views/", views.saved_view_create, name="saved_view_create"),
    path("tiers/views/<int:pk>/rename/", views.saved_view_rename, name="saved_view_rename"),
    path("tiers/views/<int:pk>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("customer/<int:pk>/", views.customer_detail, name="customer"),
    path("customer/<int:pk>/changes/<int:change_id>/why/", views.change_why, name="change_why"),
]
