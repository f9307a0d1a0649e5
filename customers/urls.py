from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("import/", views.import_upload, name="import"),
    path("import/<int:pk>/", views.import_job, name="import_job"),
    path("import/<int:pk>/progress/", views.import_job_progress, name="import_job_progress"),
    path("import/<int:pk>/errors.txt", views.import_job_errors, name="import_job_errors"),
]
