"""All URLs. The whole API is registered on one router here, so it can be read in one place."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from executions import api as executions_api

router = DefaultRouter()
router.register("projects", executions_api.ProjectViewSet, basename="project")
router.register("test-cases", executions_api.TestCaseViewSet, basename="testcase")
router.register("test-suites", executions_api.TestSuiteViewSet, basename="testsuite")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(router.urls)),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/auth/", include("rest_framework.urls")),
]
