"""What a CI job says about itself in its environment (GitHub Actions, GitLab CI): the revision,
the branch, the job's address and a few labels, so a run links back to the job that made it."""

from __future__ import annotations

from collections.abc import Mapping


def detect(env: Mapping[str, str]) -> dict:
    """{"revision", "branch", "ci_url", "labels"} from the CI's variables; empty when not in CI."""
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    return {"revision": "", "branch": "", "ci_url": "", "labels": {}}


def _github(env: Mapping[str, str]) -> dict:
    server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    run_url = ""
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID"):
        run_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
        if env.get("GITHUB_RUN_ATTEMPT"):
            run_url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
    labels = {"ci": "github-actions"}
    for label, name in (("job", "GITHUB_JOB"), ("workflow", "GITHUB_WORKFLOW")):
        if env.get(name):
            labels[label] = env[name]
    return {
        "revision": env.get("GITHUB_SHA", ""),
        # A pull request's own branch; GITHUB_REF_NAME is then "123/merge".
        "branch": env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME", ""),
        "ci_url": run_url,
        "labels": labels,
    }


def _gitlab(env: Mapping[str, str]) -> dict:
    labels = {"ci": "gitlab"}
    for label, name in (("job", "CI_JOB_NAME"), ("pipeline", "CI_PIPELINE_ID")):
        if env.get(name):
            labels[label] = env[name]
    return {
        "revision": env.get("CI_COMMIT_SHA", ""),
        "branch": env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
        or env.get("CI_COMMIT_REF_NAME", ""),
        "ci_url": env.get("CI_JOB_URL", ""),
        "labels": labels,
    }


def job_key(env: Mapping[str, str]) -> str:
    """A key unique to this CI job and attempt ("" outside CI): uploads repeated by a retried
    step share it, a re-run of the job does not."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        parts = (
            "gh",
            env["GITHUB_RUN_ID"],
            env.get("GITHUB_RUN_ATTEMPT", "1"),
            env.get("GITHUB_JOB", ""),
        )
        return "-".join(parts)
    if env.get("GITLAB_CI") == "true" and env.get("CI_JOB_ID"):
        return f"gl-{env['CI_JOB_ID']}"
    return ""
