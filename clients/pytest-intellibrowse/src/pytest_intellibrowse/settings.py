"""Where to report and what the run is about: command-line options first, then environment
variables, then what the CI job says about itself (ci.py). Shared by the plugin and the uploader."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pytest_intellibrowse import ci

# option name -> environment variable
ENV = {
    "url": "INTELLIBROWSE_URL",
    "token": "INTELLIBROWSE_TOKEN",
    "project": "INTELLIBROWSE_PROJECT",
    "suite": "INTELLIBROWSE_SUITE",
    "revision": "INTELLIBROWSE_REVISION",
    "branch": "INTELLIBROWSE_BRANCH",
    "environment": "INTELLIBROWSE_ENVIRONMENT",
    "labels": "INTELLIBROWSE_LABELS",
    "ci_url": "INTELLIBROWSE_CI_URL",
    "lease": "INTELLIBROWSE_LEASE_SECONDS",
    "spool": "INTELLIBROWSE_SPOOL_DIR",
}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass
class Settings:
    url: str
    token: str
    project: int
    suite: str = "pytest"
    revision: str = ""
    branch: str = ""
    environment: str = ""
    labels: dict = field(default_factory=dict)
    ci_url: str = ""
    lease_seconds: int = 120
    spool_dir: str = ""

    def open_payload(self) -> dict:
        """The body that opens a reported run (POST /api/v1/reported-runs/)."""
        payload = {
            "project": self.project,
            "name": self.suite,
            "revision": self.revision,
            "branch": self.branch,
            "environment": self.environment,
            "labels": self.labels,
            "ci_url": self.ci_url,
            "lease_seconds": self.lease_seconds,
        }
        return payload


def labels_parse(items: Iterable[str]) -> dict:
    """ "key=value" items (each may itself be a comma-separated list) as a dict."""
    labels = {}
    for item in items:
        for pair in filter(None, (p.strip() for p in item.split(","))):
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise SettingsError(f"A label is key=value; got {pair!r}.")
            labels[key.strip()] = value.strip()
    return labels


def wanted(options: Mapping[str, object], env: Mapping[str, str]) -> bool:
    """Whether reporting was asked for at all (an address was given)."""
    return bool(options.get("url") or env.get(ENV["url"]))


def resolve(options: Mapping[str, object], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `options` (None or empty: not given), the environment and the CI.
    Raises SettingsError naming the missing or malformed setting."""
    env = os.environ if env is None else env

    def pick(name: str) -> str:
        value = options.get(name)
        return str(value).strip() if value not in (None, "", []) else env.get(ENV[name], "").strip()

    url = pick("url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"Give the server's http(s) address ({ENV['url']}); got {url!r}.")
    token = pick("token")
    if not token:
        raise SettingsError(f"Give an API token ({ENV['token']}).")
    project = pick("project")
    if not project.isdigit() or int(project) < 1:
        raise SettingsError(f"Give the project's id, a number ({ENV['project']}); got {project!r}.")
    lease = pick("lease") or "120"
    if not lease.isdigit() or not 5 <= int(lease) <= 3600:
        raise SettingsError(f"The lease is 5 to 3600 seconds ({ENV['lease']}); got {lease!r}.")
    detected = ci.detect(env)
    given_labels = options.get("labels") or []
    if isinstance(given_labels, str):
        given_labels = [given_labels]
    labels = {
        **detected["labels"],
        **labels_parse([env.get(ENV["labels"], "")]),
        **labels_parse(given_labels),
    }
    return Settings(
        url=url.rstrip("/"),
        token=token,
        project=int(project),
        suite=pick("suite") or "pytest",
        revision=pick("revision") or detected["revision"],
        branch=pick("branch") or detected["branch"],
        environment=pick("environment"),
        labels=labels,
        ci_url=pick("ci_url") or detected["ci_url"],
        lease_seconds=int(lease),
        spool_dir=pick("spool"),
    )
