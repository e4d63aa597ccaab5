from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    """Page numbers people can read in a URL; `page_size` lets CI fetch bigger pages."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
