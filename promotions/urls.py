from django.urls import path

from . import views

app_name = "promotions"
urlpatterns = [
    path("", views.promotion_list, name="list"),
    path("new/", views.promotion_create, name="create"),
    path("<int:pk>/", views.promotion_edit, name="edit"),
    path("preview/", views.promotion_preview, name="preview"),
    path("<int:pk>/export.csv", views.promotion_export, name="export"),
    path("exports/", views.export_log, name="export_log"),
]
