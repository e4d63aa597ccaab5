"""The plugin's and the uploader's settings: options over environment variables over what the CI
job says about itself; a missing or malformed one is named."""

import pytest
from pytest_intellibrowse.ci import detect, job_key
from pytest_intellibrowse.results import clip, names
from pytest_intellibrowse.settings import SettingsError, resolve, wanted

BASE = {
    "INTELLIBROWSE_URL": "https://ib.example/",
    "INTELLIBROWSE_TOKEN": "t0k",
    "INTELLIBROWSE_PROJECT": "3",
}
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "42",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "tests",
    "GITHUB_WORKFLOW": "CI",
    "GITHUB_SHA": "abc123",
    "GITHUB_REF_NAME": "7/merge",
    "GITHUB_HEAD_REF": "feature/cart",
}
GITLAB = {
    "GITLAB_CI": "true",
    "CI_JOB_URL": "https://gitlab.example/acme/shop/-/jobs/9",
    "CI_JOB_ID": "9",
    "CI_JOB_NAME": "pytest",
    "CI_PIPELINE_ID": "77",
    "CI_COMMIT_SHA": "def456",
    "CI_COMMIT_REF_NAME": "main",
}


def test_the_environment_gives_the_settings_and_github_actions_the_rest():
    settings = resolve({}, {**BASE, **GITHUB})

    assert (settings.url, settings.token, settings.project) == ("https://ib.example", "t0k", 3)
    assert (settings.revision, settings.branch) == ("abc123", "feature/cart")
    assert settings.ci_url == "https://github.com/acme/shop/actions/runs/42/attempts/2"
    assert settings.labels == {"ci": "github-actions", "job": "tests", "workflow": "CI"}
    assert settings.open_payload()["lease_seconds"] == 120
    assert job_key({**BASE, **GITHUB}) == "gh-42-2-tests"


def test_gitlab_ci_gives_its_job_address_and_pipeline():
    settings = resolve({}, {**BASE, **GITLAB})

    assert (settings.revision, settings.branch, settings.ci_url) == (
        "def456",
        "main",
        "https://gitlab.example/acme/shop/-/jobs/9",
    )
    assert settings.labels == {"ci": "gitlab", "job": "pytest", "pipeline": "77"}
    assert job_key(GITLAB) == "gl-9"


def test_options_win_over_the_environment_and_labels_merge():
    env = {**BASE, **GITLAB, "INTELLIBROWSE_LABELS": "team=cart,tier=1"}
    options = {"project": "5", "branch": "release", "labels": ["tier=2", "os=linux"]}

    settings = resolve(options, env)

    assert (settings.project, settings.branch, settings.revision) == (5, "release", "def456")
    assert settings.labels == {
        "ci": "gitlab",
        "job": "pytest",
        "pipeline": "77",
        "team": "cart",
        "tier": "2",
        "os": "linux",
    }


def test_outside_ci_nothing_is_made_up():
    assert detect({}) == {"revision": "", "branch": "", "ci_url": "", "labels": {}}
    assert job_key({}) == ""
    assert not wanted({}, {"INTELLIBROWSE_TOKEN": "t"})


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"INTELLIBROWSE_URL": "ib.example"}, "INTELLIBROWSE_URL"),
        ({"INTELLIBROWSE_URL": "file:///etc/passwd"}, "INTELLIBROWSE_URL"),
        ({"INTELLIBROWSE_TOKEN": ""}, "INTELLIBROWSE_TOKEN"),
        ({"INTELLIBROWSE_PROJECT": "shop"}, "INTELLIBROWSE_PROJECT"),
        ({"INTELLIBROWSE_PROJECT": "0"}, "INTELLIBROWSE_PROJECT"),
        ({"INTELLIBROWSE_LEASE_SECONDS": "2"}, "INTELLIBROWSE_LEASE_SECONDS"),
        ({"INTELLIBROWSE_LABELS": "no-equals"}, "key=value"),
    ],
)
def test_a_missing_or_malformed_setting_is_named(change, named):
    with pytest.raises(SettingsError, match=named):
        resolve({}, {**BASE, **change})


def test_test_names_follow_pytests_junit_xml():
    assert names("tests/shop/test_cart.py::TestCart::test_add[2-x]") == (
        "tests.shop.test_cart.TestCart",
        "test_add[2-x]",
    )
    assert names("test_a.py::test_b") == ("test_a", "test_b")
    assert names("tests/test_broken.py") == ("", "tests/test_broken.py")


def test_text_is_clipped_to_what_the_server_takes_without_control_characters():
    assert clip("\x1b[31mred\x1b[0m\x00 ok\n") == "red ok\n"
    assert clip("x" * 5000) == "x" * 3999 + "…"
    assert clip("a" + "y" * 5000, keep_end=True) == "…" + "y" * 3999
