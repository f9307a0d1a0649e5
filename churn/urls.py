from django.urls import path

from . import views, views_risk

app_name = "churn"
urlpatterns = [
    path("", views.my_queue, name="my_queue"),
    path("team/", views.team_queue, name="team_queue"),
    path("insights/", views.insights, name="insights"),
    path("backtest/", views_risk.backtest, name="backtest"),
    path("backtest/follow-up-trigger/", views_risk.follow_up_trigger, name="follow_up_trigger"),
    path("items/bulk/", views.bulk, name="bulk"),
    path("items/<int:pk>/", views.follow_up_detail, name="item"),
    path("items/<int:pk>/status/", views.change_status, name="change_status"),
    path("items/<int:pk>/claim/", views.claim, name="claim"),
    path("items/<int:pk>/reassign/", views.reassign, name="reassign"),
]
