from django.urls import path

from . import views

app_name = "tiering"
urlpatterns = [
    path("runs/", views.run_list, name="runs"),
    path("runs/run-now/", views.run_now, name="run_now"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
