"""Lists that grow without bound (executions, a case's history, an import's results) count their
rows only up to a cap, and still hand out every row through `next`."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from core.pagination import CappedCountPagination
from tests.factories import execution_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/executions/"


@pytest.fixture
def five(case):
    return [execution_for(case) for _ in range(5)]


@pytest.fixture
def cap_of_three(monkeypatch):
    monkeypatch.setattr(CappedCountPagination, "count_cap", 3)


def test_under_the_cap_the_count_is_exact(member_api, five):
    response = member_api.get(URL, {"page_size": 2})

    assert response.status_code == 200
    assert (response.data["count"], response.data["count_capped"]) == (5, False)
    assert len(response.data["results"]) == 2
    assert response.data["next"].endswith("page=2&page_size=2")
    assert response.data["previous"] is None


def test_over_the_cap_the_count_stops_there_and_says_so(member_api, five, cap_of_three):
    response = member_api.get(URL, {"page_size": 2})

    assert (response.data["count"], response.data["count_capped"]) == (3, True)


def test_following_next_past_the_cap_gives_every_row_once_newest_first(
    member_api, five, cap_of_three
):
    seen, url = [], f"{URL}?page_size=2"
    while url:
        page = member_api.get(url).data
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == [e.pk for e in reversed(five)]


def test_the_last_page_links_back_and_not_on(member_api, five):
    response = member_api.get(URL, {"page_size": 2, "page": 3})

    assert [row["id"] for row in response.data["results"]] == [five[0].pk]
    assert response.data["next"] is None
    assert response.data["previous"].endswith("page=2&page_size=2")


def test_a_page_past_the_end_is_a_404_in_the_api_error_shape(member_api, five):
    response = member_api.get(URL, {"page": 9})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_page_that_is_not_a_whole_number_is_a_400(member_api, five):
    assert member_api.get(URL, {"page": "0"}).status_code == 400
    assert member_api.get(URL, {"page": "x"}).status_code == 400


def test_the_count_reads_at_most_the_cap_plus_one_rows(member_api, five, cap_of_three):
    with CaptureQueriesContext(connection) as queries:
        member_api.get(URL, {"page_size": 2})

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1
    assert "LIMIT 4" in counts[0]


def test_the_last_page_costs_no_count_at_all(member_api, five):
    with CaptureQueriesContext(connection) as queries:
        member_api.get(URL)

    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_the_schema_documents_the_capped_count():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    page = schema["components"]["schemas"]["PaginatedExecutionList"]

    assert page["properties"]["count_capped"]["type"] == "boolean"
    assert "count_capped" in page["required"]
