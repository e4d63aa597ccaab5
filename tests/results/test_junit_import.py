"""JUnit XML import: what real runners write, hostile XML, size limit, idempotency."""

import hashlib
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from catalog.models import TestCase
from catalog.models.projects import key_validator
from results.errors import ImportTooLarge, InvalidJUnit, XMLForbidden
from results.imports import junit_import
from results.junit import case_key
from results.models import CaseResult, CaseStats, ImportBatch
from tests.factories import TestCaseFactory
from tests.results.conftest import SAMPLES, sample

pytestmark = pytest.mark.django_db
URL = "/api/v1/imports/junit/"


def import_sample(project, name, **options):
    return junit_import(project=project, stream=io.BytesIO(sample(name)), **options)


def outcomes(batch) -> dict[str, str]:
    return dict(batch.results.values_list("case__key", "outcome"))


# --- what runners write ---------------------------------------------------------------------------


def test_pytest_report(project):
    batch, created = import_sample(project, "pytest.xml", revision="abc")

    assert created
    assert batch.totals == {
        "tests": 6,
        "passed": 3,
        "failed": 1,
        "error": 1,
        "skipped": 1,
        "retries": 0,
    }
    assert outcomes(batch)["tests.test_cart.test_checkout"] == "failed"
    assert outcomes(batch)["tests.test_db.test_migrations"] == "error"
    checkout = batch.results.get(case__key="tests.test_cart.test_checkout")
    assert checkout.message.startswith("AssertionError: assert 402 == 200")
    assert "tests/test_cart.py:31" in checkout.details["text"]
    assert "card declined" in checkout.details["system_out"]
    assert checkout.duration_ms == 311
    param = batch.results.get(case__key="tests.test_cart.test_total[3-7]")
    assert param.details["properties"] == {"ticket": "SHOP-12"}
    skipped = batch.results.get(outcome="skipped")
    assert skipped.message == "legacy coupons removed"


def test_junit5_surefire_report_with_flaky_reruns(project):
    batch, _ = import_sample(project, "surefire.xml")

    assert batch.totals["tests"] == 7
    flaky = batch.results.get(case__key="com.acme.shop.CartTest.syncsInventory")
    assert (flaky.outcome, flaky.retries) == ("passed", 1)
    assert flaky.details["reruns"][0] == {
        "kind": "flakyFailure",
        "message": "Connection reset",
        "type": "java.net.SocketException",
    }
    rerun = batch.results.get(case__key="com.acme.shop.CartTest.paysWithCard")
    assert (rerun.outcome, rerun.retries) == ("failed", 2)
    failed = batch.results.get(case__key="com.acme.shop.CartTest.rejectsNegative")
    assert failed.details["type"] == "org.opentest4j.AssertionFailedError"
    assert CaseStats.objects.get(case=flaky.case).is_flaky


def test_surefire_parameterized_names_get_distinct_valid_keys(project):
    batch, _ = import_sample(project, "surefire.xml")

    keys = [k for k in outcomes(batch) if "computesTotal" in k]
    assert len(keys) == 2
    for key in keys:
        key_validator(key)  # the catalog accepts it


def test_jest_junit_report(project):
    batch, _ = import_sample(project, "jest.xml")

    assert batch.name == "jest tests"
    assert batch.suites == 2
    assert batch.totals == {
        "tests": 5,
        "passed": 3,
        "failed": 1,
        "error": 0,
        "skipped": 1,
        "retries": 0,
    }
    failed = batch.results.get(outcome="failed")
    assert failed.message == "Error: expect(received).toBe(expected) // Object.is equality"
    assert failed.details["name"] == "Cart component shows the total › with tax"


def test_go_junit_report(project):
    batch, _ = import_sample(project, "go.xml")

    assert outcomes(batch) == {
        "github.com/acme/shop/cart.TestAdd": "passed",
        "github.com/acme/shop/cart.TestTotal/with_tax": "passed",
        "github.com/acme/shop/cart.TestCheckout": "failed",
        "github.com/acme/shop/cart.TestLegacy": "skipped",
        "github.com/acme/shop/api.[build failed]": "error",
    }
    assert batch.results.get(outcome="failed").details["text"].endswith("want 200")


def test_nested_testsuites_take_the_innermost_suite_name(project):
    batch, _ = import_sample(project, "nested.xml")

    assert batch.suites == 4
    suites = dict(batch.results.values_list("details__name", "suite_name"))
    assert suites["testTotal with data set #1"] == "Tests\\Unit\\CartTest::testTotal"
    test_add = batch.results.get(case__key="Tests.Unit.CartTest.testAdd")
    assert test_add.suite_name == "Tests\\Unit\\CartTest"
    assert test_add.details["file"] == "/app/tests/Unit/CartTest.php"


# --- catalog cases ------------------------------------------------------------------------------


def test_testcases_attach_to_existing_cases_by_key(project):
    existing = TestCaseFactory(project=project, key="tests.test_cart.test_add_item")

    batch, _ = import_sample(project, "pytest.xml")

    assert batch.results.get(case__key=existing.key).case == existing
    assert batch.new_cases == 5


def test_a_second_import_adds_history_to_the_same_cases(project):
    import_sample(project, "pytest.xml", revision="r1")
    second, _ = import_sample(project, "pytest.xml", revision="r2", idempotency_key="second")

    assert second.new_cases == 0
    assert TestCase.objects.filter(project=project).count() == 6
    stats = CaseStats.objects.get(case__key="tests.test_cart.test_checkout")
    assert stats.runs == 2 and stats.failed == 2


def test_case_keys_are_trimmed_to_the_field_and_stay_distinct():
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"

    key_a, key_b = case_key("pkg.Class", long_a), case_key("pkg.Class", long_b)

    assert len(key_a) == len(key_b) == 255
    assert key_a != key_b


# --- hostile or broken input --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml", "external_dtd.xml"])
def test_hostile_xml_is_refused_before_expansion(project, name):
    with pytest.raises(XMLForbidden):
        import_sample(project, name)

    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml", "external_dtd.xml"])
def test_hostile_xml_over_the_api_is_a_400(project, member_api, name):
    response = member_api.post(
        f"{URL}?project={project.pk}", data=sample(name), content_type="application/xml"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "xml_forbidden"


@pytest.mark.parametrize(
    "body",
    [
        b"<testsuites><testsuite>",
        b"<html><body/></html>",
        b"not xml at all",
        b"",
    ],
)
def test_broken_reports_are_a_400_and_leave_nothing(project, member_api, body):
    response = member_api.post(
        f"{URL}?project={project.pk}", data=body, content_type="application/xml"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_junit"
    assert not CaseResult.objects.exists() and not TestCase.objects.exists()


def test_a_report_over_the_limit_stops_with_too_large(project):
    with pytest.raises(ImportTooLarge):
        import_sample(project, "surefire.xml", max_bytes=1024)

    assert not CaseResult.objects.exists()


def test_an_announced_oversize_body_is_a_413(project, member_api, settings):
    settings.IB_JUNIT_MAX_BYTES = 1024

    response = member_api.post(
        f"{URL}?project={project.pk}", data=sample("surefire.xml"), content_type="application/xml"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == {"limit_bytes": 1024}


def test_an_oversize_upload_is_a_413(project, member_api, settings):
    settings.IB_JUNIT_MAX_BYTES = 2048
    upload = SimpleUploadedFile("big.xml", sample("surefire.xml"), "application/xml")

    response = member_api.post(f"{URL}?project={project.pk}", {"file": upload}, format="multipart")

    assert response.status_code == 413


def test_an_empty_body_says_so(project, member_api):
    response = member_api.post(
        f"{URL}?project={project.pk}", data=b"", content_type="application/xml"
    )

    assert response.status_code == 400
    assert response.json()["message"] == "The body is empty: send the JUnit XML report."


def test_a_document_that_is_not_junit_is_refused(project):
    with pytest.raises(InvalidJUnit):
        junit_import(project=project, stream=io.BytesIO(b"<html><testcase/></html>"))


# --- idempotency --------------------------------------------------------------------------------


def test_uploading_the_same_report_twice_is_a_no_op(project, member_api):
    def upload():
        return member_api.post(
            f"{URL}?project={project.pk}", data=sample("jest.xml"), content_type="application/xml"
        )

    first, second = upload(), upload()

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["duplicate"] is True
    assert CaseResult.objects.count() == 5


def test_an_idempotency_key_repeated_with_the_same_report_is_a_no_op(project, member_api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "pipeline-42-job-7"}
    url = f"{URL}?project={project.pk}"

    first = member_api.post(url, data=sample("jest.xml"), content_type="application/xml", **headers)
    again = member_api.post(url, data=sample("jest.xml"), content_type="application/xml", **headers)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True and again.json()["id"] == first.json()["id"]
    assert CaseResult.objects.count() == 5


def test_an_idempotency_key_reused_for_another_report_is_a_409_saying_why(project, member_api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "pipeline-42-job-7"}
    url = f"{URL}?project={project.pk}"

    first = member_api.post(url, data=sample("jest.xml"), content_type="application/xml", **headers)
    second = member_api.post(url, data=sample("go.xml"), content_type="application/xml", **headers)

    assert (first.status_code, second.status_code) == (201, 409)
    body = second.json()
    assert body["code"] == "idempotency_conflict"
    assert "was used for a different report" in body["message"]
    assert f"import #{first.json()['id']}" in body["message"]
    assert body["detail"]["content_sha256"] == first.json()["content_sha256"]
    assert body["detail"]["received_sha256"] == hashlib.sha256(sample("go.xml")).hexdigest()
    assert ImportBatch.objects.get().idempotency_key == "pipeline-42-job-7"
    assert CaseResult.objects.count() == 5


# --- API and command ----------------------------------------------------------------------------


def test_multipart_upload_with_labels(project, member_api):
    upload = SimpleUploadedFile("TEST-cart.xml", sample("surefire.xml"), "application/xml")

    response = member_api.post(
        f"{URL}?project={project.pk}&revision=abc&branch=main", {"file": upload}, format="multipart"
    )

    body = response.json()
    assert response.status_code == 201
    assert (body["filename"], body["revision"], body["branch"]) == ("TEST-cart.xml", "abc", "main")
    assert body["totals"]["tests"] == 7
    assert body["links"]["report"].endswith(f"/api/v1/imports/{body['id']}/report/?as=junit")


def test_a_body_sent_as_a_form_is_a_415_naming_the_right_type(project, member_api):
    response = member_api.post(
        f"{URL}?project={project.pk}",
        data=sample("go.xml"),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert "application/xml" in response.json()["message"]


def test_multipart_without_a_file_is_a_400(project, member_api):
    response = member_api.post(f"{URL}?project={project.pk}", {"x": "1"}, format="multipart")

    assert response.status_code == 400


def test_a_missing_or_unknown_project_is_a_400_or_404(member_api):
    def post(query):
        return member_api.post(URL + query, data=sample("go.xml"), content_type="application/xml")

    assert post("").status_code == 400
    assert post("?project=-1").status_code == 404


def test_importing_needs_the_tester_role(project, viewer_api, stranger_api, anon_api):
    def post(client):
        return client.post(
            f"{URL}?project={project.pk}", data=sample("go.xml"), content_type="application/xml"
        )

    assert post(viewer_api).status_code == 403
    assert post(stranger_api).status_code == 404
    assert post(anon_api).status_code == 401


def test_import_junit_command(project, capsys):
    call_command(
        "import_junit", str(SAMPLES / "go.xml"), "--project", project.slug, "--revision", "r9"
    )
    call_command("import_junit", str(SAMPLES / "go.xml"), "--project", str(project.pk))

    out = capsys.readouterr().out
    assert "go.xml: imported as #" in out and "5 tests, 1 failed, 1 errors, 1 skipped" in out
    assert "go.xml: already imported" in out
    assert ImportBatch.objects.get().revision == "r9"


def test_import_junit_command_reports_hostile_files(project, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("import_junit", str(SAMPLES / "billion_laughs.xml"), "--project", project.slug)

    assert "DTD" in capsys.readouterr().err


def test_samples_are_all_covered():
    runners = {p.name for p in Path(SAMPLES).glob("*.xml")}
    assert {"pytest.xml", "surefire.xml", "jest.xml", "go.xml", "nested.xml"} <= runners
