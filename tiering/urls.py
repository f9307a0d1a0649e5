from django.urls import path

from . import views

app_name = "tiering"
urlpatterns = [
    path("runs/", views.run_list, name="runs"),
]
