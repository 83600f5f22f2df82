from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.i18n import set_language
from django.views.generic import RedirectView

from dashboard.views import calls, charts

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="calls"), name="home"),
    path("calls/", calls.CallsView.as_view(), name="calls"),
    path("calls/refresh/", calls.RefreshView.as_view(), name="calls-refresh"),
    path("calls/export.csv", calls.ExportView.as_view(format="csv"), name="calls-export-csv"),
    path("calls/export.xlsx", calls.ExportView.as_view(format="xlsx"), name="calls-export-xlsx"),
    path("charts/", charts.ChartsView.as_view(), name="charts"),
    path("charts/sync/", charts.ChartsSyncView.as_view(), name="charts-sync"),
    path("charts/export.csv", charts.ChartsExportView.as_view(), name="charts-export-csv"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switch works on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
]
