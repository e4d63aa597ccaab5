"""The Failures page and triage from the dashboard and the admin: the same service, the same
audit trail; who may see and who may triage."""

import json

import pytest

from triage.models import Category, FailureGroup, TriageEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups(upload):
    upload({"pays": "refused", "adds": "assert"})
    upload({"pays": "refused", "adds": "pass", "lists": "npe"})
    return {g.error_type.rsplit(".", 1)[-1]: g for g in FailureGroup.objects.all()}


def test_the_page_lists_groups_newest_first_and_filters_by_state(client, viewer, groups, project):
    client.force_login(viewer)

    page = client.get(f"/projects/{project.pk}/failures/")
    known = client.get(f"/projects/{project.pk}/failures/?state=known")

    assert page.status_code == 200
    body = page.content.decode()
    assert body.index("NullPointerException") < body.index("AssertionFailedError")
    assert "ConnectException" in known.content.decode()
    assert "NullPointerException" not in known.content.decode()
    assert 'class="triage"' not in body  # a viewer reads, does not triage


def test_the_page_filters_by_category(client, member, groups, project):
    bug = Category.objects.get(project=project, name="Product bug")
    FailureGroup.objects.filter(pk=groups["ConnectException"].pk).update(category=bug)
    client.force_login(member)

    body = client.get(f"/projects/{project.pk}/failures/?category={bug.pk}").content.decode()

    assert "ConnectException" in body and "NullPointerException" not in body


def test_a_tester_triages_in_place(client, member, groups, project):
    group = groups["ConnectException"]
    env = Category.objects.get(project=project, name="Environment issue")
    client.force_login(member)

    response = client.post(
        f"/failure-groups/{group.pk}/triage/",
        {
            "category": env.pk,
            "comment": "db restarted",
            "issue_url": "https://jira.example/OPS-3",
            "next": f"/projects/{project.pk}/failures/?state=known",
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith(f"/projects/{project.pk}/failures/?state=known")
    group.refresh_from_db()
    assert (group.category, group.comment) == (env, "db restarted")
    assert TriageEvent.objects.get().actor == member


def test_a_post_of_the_category_alone_keeps_the_comment_and_link(client, member, groups, project):
    group = groups["ConnectException"]
    bug = Category.objects.get(project=project, name="Product bug")
    client.force_login(member)
    path = f"/failure-groups/{group.pk}/triage/"
    client.post(path, {"comment": "db restarted", "issue_url": "https://jira.example/OPS-3"})

    client.post(path, {"category": bug.pk})

    group.refresh_from_db()
    assert (group.category, group.comment, group.issue_url) == (
        bug,
        "db restarted",
        "https://jira.example/OPS-3",
    )


def test_a_bad_link_is_refused_with_a_message_and_nothing_changes(client, member, groups):
    group = groups["ConnectException"]
    client.force_login(member)

    response = client.post(
        f"/failure-groups/{group.pk}/triage/", {"issue_url": "javascript:alert(1)"}, follow=True
    )

    assert "http(s) URL" in response.content.decode()
    group.refresh_from_db()
    assert group.issue_url == ""


def test_an_offsite_next_is_ignored(client, member, groups, project):
    client.force_login(member)

    response = client.post(
        f"/failure-groups/{groups['ConnectException'].pk}/triage/",
        {"comment": "x", "next": "https://evil.example/"},
    )

    assert response["Location"].startswith(f"/projects/{project.pk}/failures/")


def test_viewers_and_strangers_cannot_triage(client, viewer, stranger, groups, project):
    group = groups["ConnectException"]
    client.force_login(viewer)
    as_viewer = client.post(f"/failure-groups/{group.pk}/triage/", {"comment": "x"})
    client.force_login(stranger)
    as_stranger = client.post(f"/failure-groups/{group.pk}/triage/", {"comment": "x"})
    page = client.get(f"/projects/{project.pk}/failures/")

    assert (as_viewer.status_code, as_stranger.status_code, page.status_code) == (403, 404, 404)
    assert not TriageEvent.objects.exists()


def test_the_admin_triages_through_the_same_service(admin_client, groups, project):
    group = groups["ConnectException"]
    bug = Category.objects.get(project=project, name="Product bug")

    response = admin_client.post(
        f"/admin/triage/failuregroup/{group.pk}/change/",
        {"category": bug.pk, "comment": "from the admin", "issue_url": ""},
    )

    assert response.status_code == 302, response.content[:2000]
    group.refresh_from_db()
    assert (group.category, group.comment) == (bug, "from the admin")
    assert TriageEvent.objects.get().changes["comment"] == ["", "from the admin"]


def test_a_run_page_leads_with_what_matters(client, viewer, run, x_case):
    run(x_case, x=1)
    run(x_case, x=2)
    execution = run(x_case, x=3)
    client.force_login(viewer)

    body = client.get(f"/executions/{execution.pk}/").content.decode()

    assert 'id="what-matters"' in body
    assert "0 new" in body and "1 known" in body
    assert body.index('id="what-matters"') < body.index("Steps")


def test_the_json_report_of_an_import_leads_with_what_matters(viewer_api, upload):
    upload({"pays": "refused", "adds": "assert"})
    batch = upload({"pays": "refused", "adds": "pass", "lists": "npe"})

    response = viewer_api.get(f"/api/v1/imports/{batch.pk}/report/?as=json")
    text = b"".join(response.streaming_content).decode()

    assert text.index('"what_matters"') < text.index('"cases"')
    matters = json.loads(text)["what_matters"]
    assert matters["counts"]["new"] == 1 and matters["counts"]["fixed"] == 1
    assert matters["counts"]["known"] == 1
