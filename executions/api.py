from rest_framework import viewsets


class ProjectViewSet(viewsets.ViewSet):
    pass


class TestCaseViewSet(viewsets.ViewSet):
    pass


class TestSuiteViewSet(viewsets.ViewSet):
    pass
