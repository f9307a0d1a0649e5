from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("import/", views.import_upload, name="import"),
]
