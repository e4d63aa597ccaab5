"""manage.py load_demo: the "Demo" project, with a case of every kind aimed at the app's own demo
pages (executions/demo.py, served under /demo/), a runner profile and a suite.

Idempotent: a second run changes nothing (rows are only written when they differ from what the
demo wants), so `make run` can call it every time. Cases reach the app through the base URL in
IB_PUBLIC_URL (default http://HOST:PORT, where `manage.py serve` listens: 127.0.0.1:8000), stored
as the `base_url` default of each case; a run may still pass its own `base_url` parameter. Creates no users and no executions.
"""

import os
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand
from django.db import transaction

from catalog import services as catalog
from catalog.models import CaseType, Project, RunnerProfile, TestCase, TestSuite
from runners.allowlist import is_loopback

DEFAULT_PORT = "8000"
PROJECT_SLUG = "demo"
SUITE_NAME = "Demo smoke suite"


def public_url() -> str:
    """IB_PUBLIC_URL, else where `manage.py serve` will listen: the PORT that `make run` and serve
    both read (a demo loaded for port 8000 fails every case when the app runs on another). A
    server listening on every address (HOST=0.0.0.0) is reached on loopback."""
    if os.environ.get("IB_PUBLIC_URL"):
        return os.environ["IB_PUBLIC_URL"].rstrip("/")
    host = os.environ.get("HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a comparison: this binds nothing)
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('PORT', DEFAULT_PORT)}"


def base_url_default(base_url: str) -> dict:
    """The first step of each automated demo case: base_url unless the run passes its own."""
    return {"name": "base URL", "action": "defaults", "params": {"values": {"base_url": base_url}}}


def demo_cases(base_url: str) -> list[dict]:
    host = urlsplit(base_url)
    app_port = host.port or (443 if host.scheme == "https" else 80)
    return [
        {
            "key": "DEMO-HTTP-ITEMS",
            "name": "Items API answers and echoes",
            "description": "GET the item list and check status, headers, JSON paths and latency; "
            "capture the first item's name and POST it back.",
            "type": CaseType.GENERIC,
            "tags": ["demo", "api"],
            "steps": [
                base_url_default(base_url),
                {
                    "name": "list items",
                    "action": "http",
                    "params": {
                        "url": "{{ base_url }}/demo/api/items",
                        "expect": {
                            "status": 200,
                            "headers": {"content-type": {"contains": "application/json"}},
                            "json": [
                                {"path": "$.count", "equals": 3},
                                {"path": "$.items[0].name", "equals": "apple"},
                                {"path": "$.items[0].tags", "contains": "fruit"},
                                {"path": "$.items[2].name", "matches": "^ch"},
                            ],
                            "max_latency_ms": 5000,
                        },
                    },
                    "capture": {"first_item": "json.items.0.name"},
                },
                {
                    "name": "create an item",
                    "action": "http",
                    "params": {
                        "method": "POST",
                        "url": "{{ base_url }}/demo/api/items",
                        "json": {"name": "{{ first_item }} pie"},
                        "expect": {
                            "status": 201,
                            "json": [{"path": "$.name", "equals": "apple pie"}],
                        },
                    },
                },
                {
                    "name": "captured name",
                    "action": "assert",
                    "params": {"variable": "first_item", "equals": "apple"},
                },
            ],
        },
        {
            "key": "DEMO-HTTP-FAILS",
            "name": "Slow endpoint misses its latency budget (fails on purpose)",
            "description": "FAILS ON PURPOSE, to show what a failure looks like: /demo/api/slow "
            "answers after 300 ms, the step allows 100 ms and expects a status the endpoint "
            "never returns.",
            "type": CaseType.GENERIC,
            "tags": ["demo", "api", "fails-on-purpose"],
            "steps": [
                base_url_default(base_url),
                {
                    "name": "slow endpoint is fast",
                    "action": "http",
                    "params": {
                        "url": "{{ base_url }}/demo/api/slow?ms=300",
                        "expect": {
                            "status": 200,
                            "json": [{"path": "$.status", "equals": "fast"}],
                            "max_latency_ms": 100,
                        },
                    },
                },
            ],
        },
        {
            "key": "DEMO-BROWSER-FORM",
            "name": "Greeting form in a real browser",
            "description": "Headless Chromium fills in the demo form and checks the greeting.",
            "type": CaseType.GENERIC,
            "tags": ["demo", "browser"],
            "steps": [
                base_url_default(base_url),
                _browser("open the form", do="goto", url="{{ base_url }}/demo/"),
                _browser("title", do="expect_title", equals="IntelliBrowse demo form"),
                _browser("type a name", do="fill", selector="#name", value="Ada"),
                _browser("pick a colour", do="select", selector="#color", value="blue"),
                _browser("submit", do="click", selector="#submit"),
                _browser("greeting", do="expect_text", selector="#greeting", text="Hello, Ada!"),
                _browser("colour shown", do="expect_text", selector="#color", text="blue"),
                _browser("on the welcome page", do="expect_url", contains="/demo/welcome/"),
                _browser("screenshot", do="screenshot", name="welcome"),
            ],
        },
        {
            "key": "DEMO-BDD-ITEMS",
            "name": "Items API, in Gherkin",
            "description": "A feature with a Background, a data table and a Scenario Outline.",
            "type": CaseType.BDD,
            "tags": ["demo", "bdd"],
            "steps": [],
            "feature": DEMO_FEATURE.replace("BASE_URL", base_url),
        },
        {
            "key": "DEMO-MANUAL-CHECKOUT",
            "name": "Greeting form by hand",
            "description": "A manual case: a tester performs each step and records the result.",
            "type": CaseType.MANUAL,
            "tags": ["demo", "manual"],
            "steps": [
                {
                    "name": "Open the form",
                    "instruction": f"Open {base_url}/demo/ in a browser.",
                    "expected": "The 'Demo form' page shows a name field and a colour list.",
                },
                {
                    "name": "Submit without a name",
                    "instruction": "Leave the name empty and press 'Say hello'.",
                    "expected": "The page stays and says 'Type a name first.'",
                },
                {
                    "name": "Submit with a name",
                    "instruction": "Type your name, pick a colour, press 'Say hello'.",
                    "expected": "The welcome page greets you by name and repeats the colour.",
                    "data": {"name": "Grace", "color": "green"},
                },
            ],
        },
        {
            "key": "DEMO-PYTEST-SAMPLE",
            "name": "pytest on demo/sample_tests (one test fails on purpose)",
            "description": "Runs the 'sample-pytest' runner profile; its JUnit XML becomes one "
            "result per test. FAILS ON PURPOSE: test_fails_on_purpose fails.",
            "type": CaseType.GENERIC,
            "tags": ["demo", "command", "fails-on-purpose"],
            "steps": [
                {
                    "name": "pytest sample folder",
                    "action": "command",
                    "params": {"profile": "sample-pytest", "vars": {"target": "."}},
                }
            ],
        },
        {
            "key": "DEMO-CHECKS",
            "name": "The app is up (Python checks)",
            "description": "Built-in checks: the app's port is open and its host name resolves.",
            "type": CaseType.GENERIC,
            "tags": ["demo", "checks"],
            "steps": [
                {
                    "name": "app port open",
                    "action": "python",
                    "params": {
                        "check": "tcp_port_open",
                        "args": {"host": host.hostname or "127.0.0.1", "port": app_port},
                    },
                },
                {
                    "name": "localhost resolves",
                    "action": "python",
                    "params": {
                        "check": "dns_resolves",
                        "args": {"name": "localhost", "expect": "127.0.0.1"},
                    },
                },
            ],
        },
    ]


def _browser(step_name: str, /, **params) -> dict:
    return {"name": step_name, "action": "browser", "params": params}


DEMO_FEATURE = """\
@demo
Feature: Items API
  The demo target serves a small list of items at /demo/api/items.

  Background:
    Given base_url defaults to "BASE_URL"

  Scenario: The list holds three items
    When I send a GET request to "{{ base_url }}/demo/api/items"
    Then the response status is 200
    And the response header "Content-Type" contains "json"
    And the response JSON matches:
      | path            | value  |
      | $.count         | 3      |
      | $.items[1].name | bread  |
      | $.items[2].name | cheese |

  Scenario Outline: Each item has its own page
    When I send a GET request to "{{ base_url }}/demo/api/items/<id>"
    Then the response status is <status>
    And the response body contains "<text>"

    Examples: items that exist
      | id | status | text   |
      | 1  | 200    | apple  |
      | 3  | 200    | cheese |

    Examples: an item that does not
      | id | status | text       |
      | 9  | 404    | no item 9  |

  Scenario: A new item is echoed back
    When I send a POST request to "{{ base_url }}/demo/api/items" with JSON:
      \"\"\"json
      {"name": "fig"}
      \"\"\"
    Then the response status is 201
    And the response JSON "$.name" is "fig"
"""

SAMPLE_PROFILE = {
    "description": "pytest on the sample folder shipped in the repository (demo/sample_tests).",
    "argv": [
        "{{ python }}",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml={{ output_dir }}/junit.xml",
        "{{ target }}",
    ],
    "allowed_parameters": {"target": ""},
    "working_dir": "demo/sample_tests",
    "env": {},
    "timeout_seconds": 300,
    "junit_xml": "{{ output_dir }}/junit.xml",
}
SUITE_CASES = [
    "DEMO-HTTP-ITEMS",
    "DEMO-HTTP-FAILS",
    "DEMO-BROWSER-FORM",
    "DEMO-BDD-ITEMS",
    "DEMO-PYTEST-SAMPLE",
    "DEMO-CHECKS",
]


class Command(BaseCommand):
    help = "Create (or bring up to date) the Demo project, its cases, runner profile and suite."

    def handle(self, *args, **options) -> None:
        base_url = public_url()
        with transaction.atomic():
            project = self._project(base_url)
            self._profile(project)
            cases = {spec["key"]: self._case(project, spec) for spec in demo_cases(base_url)}
            self._suite(project, [cases[key] for key in SUITE_CASES])
        self.stdout.write(
            f"Demo project '{project.slug}' ready: {len(cases)} cases, suite '{SUITE_NAME}', "
            f"targets at {base_url}/demo/"
        )

    def _project(self, base_url: str) -> Project:
        hosts = ["127.0.0.1", "localhost"]
        app_host = urlsplit(base_url).hostname or ""
        if app_host and not is_loopback(app_host):
            hosts.append(app_host)
        project = Project.objects.filter(slug=PROJECT_SLUG).first()
        if project is None:
            return catalog.project_create(
                name="Demo",
                slug=PROJECT_SLUG,
                description="Cases of every kind against the app's own demo pages (/demo/).",
                allowed_hosts=hosts,
                # Two cases fail on purpose: a demo run must not raise "high failure rate".
                failure_alerts=False,
            )
        missing = [h for h in hosts if h not in project.allowed_hosts]
        if missing or project.failure_alerts:  # keep hosts someone added; add what it needs
            catalog.project_update(
                project, allowed_hosts=[*project.allowed_hosts, *missing], failure_alerts=False
            )
        return project

    def _profile(self, project: Project) -> None:
        profile = RunnerProfile.objects.filter(project=project, name="sample-pytest").first()
        if profile is None:
            profile = RunnerProfile(project=project, name="sample-pytest")
        elif all(getattr(profile, k) == v for k, v in SAMPLE_PROFILE.items()):
            return
        for field, value in SAMPLE_PROFILE.items():
            setattr(profile, field, value)
        profile.full_clean()
        profile.save()

    def _case(self, project: Project, spec: dict) -> TestCase:
        fields = {"feature": "", **spec}
        key = fields.pop("key")
        case = TestCase.objects.filter(project=project, key=key).first()
        if case is None:
            return catalog.case_create(project=project, key=key, **fields)
        if any(getattr(case, k) != v for k, v in fields.items()):
            catalog.case_update(case, **fields)
        return case

    def _suite(self, project: Project, cases: list[TestCase]) -> None:
        fields = {
            "description": "The automated demo cases; two of them fail on purpose.",
            "max_parallel": 2,
            "fail_fast": False,
        }
        items = [{"case": case, "order": order} for order, case in enumerate(cases)]
        suite = TestSuite.objects.filter(project=project, name=SUITE_NAME).first()
        if suite is None:
            catalog.suite_create(project=project, name=SUITE_NAME, items=items, **fields)
            return
        current = list(suite.items.order_by("order").values_list("case_id", "order", "skip"))
        wanted = [(case.pk, order, False) for order, case in enumerate(cases)]
        if current != wanted or any(getattr(suite, k) != v for k, v in fields.items()):
            catalog.suite_update(suite, items=items, **fields)
