from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from api.urls import urls as api_urls
from core import views as core_views
from dashboard import views as dashboard_views

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("customers.urls")),
    path("tiering/", include("tiering.urls")),
    path("promotions/", include("promotions.urls")),
    path("", include("dashboard.urls")),
    path("churn/", include("churn.urls")),
    path("api/v1/", api_urls),
    path("admin/", admin.site.urls),
]
