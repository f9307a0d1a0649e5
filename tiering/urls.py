from django.urls import path

from . import views, views_rules

app_name = "tiering"
urlpatterns = [
    path("runs/", views.run_list, name="runs"),
    path("runs/run-now/", views.run_now, name="run_now"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
    path("rules/", views_rules.rules_index, name="rules"),
    path("rules/<int:pk>/", views_rules.rules_edit, name="rules_edit"),
    path("rules/<int:pk>/preview/", views_rules.rules_preview, name="rules_preview"),
    path("rules/<int:pk>/start-draft/", views_rules.rules_start_draft, name="rules_start_draft"),
    path("rules/<int:pk>/publish/", views_rules.rules_publish, name="rules_publish"),
]
