"""JUnit import fixes found by running real reports through it (issue 16): a nameless testcase
(jest), control characters inside CDATA (go-junit-report), gzip bodies and gzip bombs, and the
reports Playwright Test and gotestsum write. Through the API, with the bodies those tools send."""

import gzip
import hashlib
import io
import re

import pytest

from catalog.models import TestCase
from results.errors import ImportTooLarge, InvalidJUnit
from results.imports import junit_import
from results.junit import ControlFilter, JUnitReader, case_key, gunzipped
from results.models import CaseResult, ImportBatch
from tests.results.conftest import sample

pytestmark = pytest.mark.django_db
URL = "/api/v1/imports/junit/"


def post(api, project, body: bytes, **headers):
    return api.post(
        f"{URL}?project={project.pk}", data=body, content_type="application/xml", **headers
    )


def big_jest_report(cases: int, nameless_at: int) -> bytes:
    """A jest-junit report of `cases` testcases in suites of 100, one with an empty title."""
    suites, number = [], 0
    for suite in range(0, cases, 100):
        rows = []
        for _ in range(min(100, cases - suite)):
            number += 1
            name = "" if number == nameless_at else f"case {number}"
            classname = "" if number == nameless_at else f"Module {suite // 100}"
            rows.append(f'<testcase classname="{classname}" name="{name}" time="0.001"/>')
        suites.append(
            f'<testsuite name="src/m{suite // 100}.test.js" tests="{len(rows)}">'
            + "".join(rows)
            + "</testsuite>"
        )
    return ('<testsuites name="jest tests">' + "".join(suites) + "</testsuites>").encode()


# --- a testcase with no name ---------------------------------------------------------------------


def test_jest_testcases_with_an_empty_title_get_a_name_from_suite_and_position(project):
    batch, _ = junit_import(project=project, stream=io.BytesIO(sample("jest_empty_title.xml")))

    keys = dict(batch.results.values_list("case__key", "outcome"))
    assert keys == {
        "Cart.adds an item": "passed",
        "Cart.removes an item": "passed",
        "src/cart.test.js.[unnamed 3]": "passed",
        case_key("Cart › total", "with tax"): "failed",
        "src/price.test.js.[unnamed 1]": "passed",
    }
    assert batch.notes == [
        {
            "code": "names_derived",
            "count": 2,
            "message": "2 <testcase>(s) had no name and were named after their suite and "
            'position ("[unnamed N]").',
        }
    ]
    unnamed = batch.results.get(case__key="src/cart.test.js.[unnamed 3]")
    assert unnamed.details["derived_name"] is True
    assert unnamed.case.name == "[unnamed 3]"


def test_the_derived_name_is_stable_so_the_case_keeps_its_history(project):
    body = sample("jest_empty_title.xml")
    junit_import(project=project, stream=io.BytesIO(body), idempotency_key="run-1")
    second, _ = junit_import(
        project=project, stream=io.BytesIO(body.replace(b"0.004", b"0.005")), idempotency_key="r2"
    )

    assert second.new_cases == 0
    assert TestCase.objects.filter(key="src/cart.test.js.[unnamed 3]").count() == 1


def test_one_nameless_testcase_in_a_4239_case_report_no_longer_fails_it(project, member_api):
    response = post(member_api, project, big_jest_report(4239, nameless_at=2718))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["totals"]["tests"] == 4239
    assert [note["code"] for note in body["notes"]] == ["names_derived"]
    assert CaseResult.objects.count() == 4239
    assert TestCase.objects.filter(key="src/m27.test.js.[unnamed 18]").exists()


# --- control characters --------------------------------------------------------------------------


def test_control_characters_in_cdata_are_replaced_and_the_answer_says_so(project, member_api):
    raw = sample("go_junit_report_ansi.xml")
    assert b"\x1b[31m" in raw  # what go-junit-report copied from the test's output

    response = post(member_api, project, raw)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["notes"][0]["code"] == "control_characters_replaced"
    assert body["notes"][0]["count"] == 7
    assert "replaced with U+FFFD" in body["notes"][0]["message"]
    assert body["content_sha256"] == hashlib.sha256(raw).hexdigest()  # of what was sent
    failed = CaseResult.objects.get(outcome="failed")
    assert (
        failed.details["text"]
        == "ui_test.go:17: \ufffd[31mexpected\ufffd[0m red, got\ufffd\ufffd blue"
    )
    assert CaseResult.objects.count() == 2


def test_a_repeated_report_with_control_characters_is_told_the_same(project, member_api):
    raw = sample("go_junit_report_ansi.xml")

    post(member_api, project, raw)
    again = post(member_api, project, raw)

    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["notes"][0]["count"] == 7


def test_a_document_in_another_encoding_gets_a_question_mark():
    raw = b'<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="caf\xe9 \x1b"/>'

    filtered = ControlFilter(io.BytesIO(raw))
    data = filtered.read(1 << 16)

    assert data.endswith(b'name="caf\xe9 ?"/>') and filtered.replaced == 1


def test_a_utf16_document_is_left_alone():
    raw = '<testsuite name="x"/>'.encode("utf-16")

    filtered = ControlFilter(io.BytesIO(raw))

    assert filtered.read(1 << 16) == raw and filtered.replaced == 0


def test_a_clean_report_has_no_notes(project):
    batch, _ = junit_import(project=project, stream=io.BytesIO(sample("pytest.xml")))

    assert batch.notes == []


# --- gzip ----------------------------------------------------------------------------------------


def test_a_gzip_body_is_imported_like_the_plain_one(project, member_api):
    raw = sample("playwright.xml")

    response = post(member_api, project, gzip.compress(raw), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["totals"]["tests"] == 4
    assert body["size_bytes"] == len(raw)
    assert body["content_sha256"] == hashlib.sha256(raw).hexdigest()
    # the same report sent plain is the same report
    assert post(member_api, project, raw).json()["duplicate"] is True


def test_a_gzip_bomb_is_a_413_on_the_decompressed_size(project, member_api, settings):
    settings.IB_JUNIT_MAX_BYTES = 1024 * 1024
    inflated = b"<testsuites>" + b" " * (64 * 1024 * 1024) + b"</testsuites>"
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < settings.IB_JUNIT_MAX_BYTES // 10  # small on the wire

    response = post(member_api, project, bomb, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == {"limit_bytes": 1024 * 1024}
    assert not ImportBatch.objects.exists()


def test_the_bomb_stops_at_the_limit_without_inflating_the_rest():
    inflated = b"<testsuites>" + b" " * (64 * 1024 * 1024) + b"</testsuites>"
    stream = gunzipped(io.BytesIO(gzip.compress(inflated)))
    reader = JUnitReader(stream, 1024 * 1024)

    with pytest.raises(ImportTooLarge):
        list(reader)

    assert reader.source.size <= 1024 * 1024 + 64 * 1024


def test_a_body_labelled_gzip_that_is_not_gzip_is_a_400(project, member_api):
    response = post(member_api, project, sample("go.xml"), HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_junit"
    assert "not valid gzip" in response.json()["message"]


def test_a_truncated_gzip_body_is_a_400_and_leaves_nothing(project):
    cut = gzip.compress(sample("surefire.xml"))[:200]

    with pytest.raises(InvalidJUnit):
        junit_import(project=project, stream=gunzipped(io.BytesIO(cut)))

    assert not CaseResult.objects.exists()


def test_another_content_encoding_is_a_415_naming_gzip(project, member_api):
    response = post(member_api, project, sample("go.xml"), HTTP_CONTENT_ENCODING="br")

    assert response.status_code == 415
    assert "gzip" in response.json()["message"]


# --- what other runners write --------------------------------------------------------------------


def test_playwright_test_report(project):
    batch, _ = junit_import(project=project, stream=io.BytesIO(sample("playwright.xml")))

    assert batch.totals == {
        "tests": 4,
        "passed": 2,
        "failed": 1,
        "error": 0,
        "skipped": 1,
        "retries": 0,
    }
    failed = batch.results.get(outcome="failed")
    assert failed.case.key == case_key("cart.spec.ts", "cart › pays with a card")
    assert failed.message == "cart.spec.ts:21:7 pays with a card"
    assert "Timed out 5000ms" in failed.details["text"]
    assert "[[ATTACHMENT|" in failed.details["system_out"]
    assert failed.duration_ms == 4703


def test_gotestsum_report(project):
    batch, _ = junit_import(project=project, stream=io.BytesIO(sample("gotestsum.xml")))

    outcomes = dict(batch.results.values_list("case__key", "outcome"))
    assert outcomes == {
        "github.com/acme/shop/cart.TestAdd": "passed",
        "github.com/acme/shop/cart.TestCheckout": "failed",
        "github.com/acme/shop/cart.TestLegacy": "skipped",
        "github.com/acme/shop/api.TestHandler/returns_404": "passed",
    }
    failed = batch.results.get(outcome="failed")
    assert re.search(r"cart_test.go:42: checkout: got status 402", failed.details["text"])
    skipped = batch.results.get(outcome="skipped").message
    assert skipped.startswith("=== RUN   TestLegacy\n") and "legacy path removed" in skipped
