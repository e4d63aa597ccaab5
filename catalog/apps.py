from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The test catalog: projects and their members, test cases, test suites, runner profiles."""

    name = "catalog"
    verbose_name = "Test catalog"
