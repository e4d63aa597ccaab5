"""BDD cases: Gherkin features run for real through step definitions (against a loopback server),
with outlines, tables, doc strings, rules, tags, and undefined / ambiguous steps reported the way
Cucumber users expect."""

import re

import pytest

from catalog.models import CaseType
from executions.models import ExecutionStatus
from executions.outcome import StepOutcome
from runners.bdd import compile_feature
from runners.stepdefs import remove_step, snippet, step
from tests.executions.local_site import LocalSite, needs_browser, run_case
from tests.factories import TestCaseFactory

S = ExecutionStatus
pytestmark = pytest.mark.django_db

PASSING_FEATURE = """\
@api
Feature: Items API

  Background:
    Given I set greeting to "hello"

  Scenario: The list has two items
    When I send a GET request to "{{ base_url }}/json"
    Then the response status is 200
    And the response JSON matches:
      | path             | value |
      | $.count          | 2     |
      | $.items[0].name  | apple |
      | $.ok             | true  |

  Scenario Outline: Each status code comes back as asked
    When I send a GET request to "{{ base_url }}/status/<code>"
    Then the response status is <code>

    Examples:
      | code |
      | 200  |
      | 418  |

  Rule: Posting echoes the body

    Scenario: A JSON body is sent as written
      When I send a POST request to "{{ base_url }}/echo" with JSON:
        \"\"\"json
        {"name": "{{ greeting }}"}
        \"\"\"
      Then the response JSON "$.body" contains "hello"
      And I remember the response JSON "$.method" as method
      And the variable method is "POST"

  @skip
  Scenario: Not ready yet
    When I send a GET request to "{{ base_url }}/json"
"""

PROBLEM_FEATURE = """\
Feature: Problems

  Scenario: An undefined step
    Given the moon is made of cheese
    Then the response status is 200

  Scenario: An ambiguous step
    When I open "https://example.test"

  Scenario: A failing step
    When I send a GET request to "{{ base_url }}/json"
    Then the response status is 201
    And the response body contains "apple"

  Scenario: Independent of the others
    When I send a GET request to "{{ base_url }}/json"
    Then the response status is 200
"""


@pytest.fixture(scope="module")
def site():
    with LocalSite() as running:
        yield running


def bdd_case(project, feature: str):
    return TestCaseFactory(project=project, type=CaseType.BDD, steps=[], feature=feature)


@pytest.fixture
def ambiguous_definition():
    """A second definition for text a built-in already matches."""

    @step(r'^I open "(.*)"$')
    def open_again(ctx, url):
        return StepOutcome()

    yield open_again
    remove_step(open_again)


# --- a feature that passes ------------------------------------------------------------------


def test_a_feature_runs_scenario_by_scenario_with_outline_table_and_doc_string(project, site):
    execution, steps = run_case(
        bdd_case(project, PASSING_FEATURE), parameters={"base_url": site.url()}
    )

    assert execution.status == S.PASSED, [s["error"] for s in steps if s["error"]]
    assert execution.status_reason == "5 scenarios; steps: 15 passed, 2 skipped"
    assert [s["order"] for s in steps] == list(range(1, 18))
    listed = "The list has two items"
    outline = "Each status code comes back as asked"
    rule = "A JSON body is sent as written"
    assert [(s["scenario"], s["keyword"], s["status"]) for s in steps] == [
        (listed, "Given", "passed"),  # the Background runs first in every scenario
        (listed, "When", "passed"),
        (listed, "Then", "passed"),
        (listed, "And", "passed"),
        (outline, "Given", "passed"),
        (outline, "When", "passed"),
        (outline, "Then", "passed"),
        (outline, "Given", "passed"),
        (outline, "When", "passed"),
        (outline, "Then", "passed"),
        (rule, "Given", "passed"),
        (rule, "When", "passed"),
        (rule, "Then", "passed"),
        (rule, "And", "passed"),
        (rule, "And", "passed"),
        ("Not ready yet", "Given", "skipped"),  # tagged @skip: recorded, not run
        ("Not ready yet", "When", "skipped"),
    ]


def test_outline_rows_fill_the_step_text(project, site):
    _, steps = run_case(bdd_case(project, PASSING_FEATURE), parameters={"base_url": site.url()})

    outline = [s["name"] for s in steps if s["scenario"].startswith("Each status")]
    assert (
        outline[1]
        == 'Each status code comes back as asked › When I send a GET request to "{{ base_url }}/status/200"'
    )
    assert outline[5] == "Each status code comes back as asked › Then the response status is 418"


def test_tables_and_doc_strings_are_kept_in_the_step_input(project, site):
    _, steps = run_case(bdd_case(project, PASSING_FEATURE), parameters={"base_url": site.url()})

    assert steps[3]["input"]["table"][1] == ["$.count", "2"]
    assert steps[11]["input"]["doc"] == '{"name": "{{ greeting }}"}'
    assert steps[3]["tags"] == ["@api"]
    assert steps[1]["definition"].startswith(
        "I send a {word} request to {string} (runners.stepdefs_builtin:"
    )


# --- problems -------------------------------------------------------------------------------


def test_undefined_ambiguous_and_failing_steps(project, site, ambiguous_definition):
    execution, steps = run_case(
        bdd_case(project, PROBLEM_FEATURE), parameters={"base_url": site.url()}
    )
    by_text = {s["input"]["text"]: s for s in steps}

    assert execution.status == S.FAILED  # a failure outranks undefined and ambiguous steps
    assert [s["status"] for s in steps] == [
        "undefined", "skipped",  # undefined, then the rest of its scenario is skipped
        "error",  # ambiguous
        "passed", "failed", "skipped",
        "passed", "passed",  # the next scenario runs anyway
    ]  # fmt: skip
    undefined = by_text["the moon is made of cheese"]
    assert undefined["error"]["type"] == "UndefinedStep"
    assert undefined["error"]["message"] == "Undefined step: Given the moon is made of cheese"
    assert (
        '@step("the moon is made of cheese")\ndef the_moon_is_made_of_cheese(ctx):'
        in (undefined["error"]["suggestion"])
    )
    ambiguous = by_text['I open "https://example.test"']
    assert ambiguous["error"]["type"] == "AmbiguousStep"
    assert "matches 2 step definitions" in ambiguous["error"]["message"]
    assert "'I open {string}'" in ambiguous["error"]["message"]
    assert "'^I open \"(.*)\"$'" in ambiguous["error"]["message"]
    assert steps[4]["error"]["message"] == "status is 200, expected 201"
    assert steps[5]["actual"] == "not run: an earlier step of the scenario is failed"


def test_only_undefined_steps_make_the_run_an_error(project):
    feature = "Feature: F\n  Scenario: S\n    Given nobody wrote this step yet\n"
    execution, (only,) = run_case(bdd_case(project, feature))

    assert execution.status == S.ERROR
    assert only["status"] == "undefined"
    assert execution.status_reason.startswith(
        "S › Given nobody wrote this step yet: Undefined step"
    )


def test_a_snippet_has_typed_parameters_and_the_table_argument():
    code = snippet('I have 3 "red" apples', table=True)

    assert code.startswith(
        '@step("I have {int} {string} apples")\ndef i_have_apples(ctx, int_value, string, table):'
    )


def test_an_exception_in_a_definition_is_an_error_with_a_traceback(project):
    feature = "Feature: F\n  Scenario: S\n    Then the response status is 200\n"
    execution, (only,) = run_case(bdd_case(project, feature))

    assert execution.status == S.ERROR
    assert only["error"]["type"] == "LookupError"
    assert "send a request first" in only["error"]["message"]
    assert "stepdefs_builtin.py" in only["error"]["traceback"]


# --- custom definitions ---------------------------------------------------------------------


@pytest.fixture
def basket_definitions():
    @step("the basket holds:")
    def basket_holds(ctx, table):
        ctx.resources["world"]["basket"] = {row[0]: int(row[1]) for row in table[1:]}

    @step(r"^the basket has (\d+) (\w+)$")
    def basket_has(ctx, count, item):
        held = ctx.resources["world"]["basket"].get(item, 0)
        assert held == int(count), f"the basket has {held} {item}"

    yield
    remove_step(basket_holds)
    remove_step(basket_has)


def test_custom_definitions_with_regex_and_a_table(project, basket_definitions):
    feature = """\
Feature: Basket
  Scenario: Counting
    Given the basket holds:
      | item  | count |
      | apple | 2     |
    Then the basket has 2 apple
    And the basket has 5 apple
"""
    execution, steps = run_case(bdd_case(project, feature))

    assert [s["status"] for s in steps] == ["passed", "passed", "failed"]
    # (pytest's assertion rewriting adds its explanation after our message)
    assert steps[2]["error"]["message"].startswith("the basket has 2 apple")
    assert execution.status == S.FAILED


def test_the_world_and_variables_do_not_leak_between_scenarios(project):
    feature = """\
Feature: Isolation
  Scenario: One
    Given I set colour to "red"
  Scenario: Two
    Then the variable colour is "red"
"""
    _, steps = run_case(bdd_case(project, feature))

    assert steps[1]["status"] == "failed"
    assert steps[1]["error"]["message"] == "variable 'colour' is not set"


def test_compiling_expands_outlines_and_keeps_background_per_scenario():
    pickles, keywords = compile_feature(PASSING_FEATURE)

    assert [p["name"] for p in pickles] == [
        "The list has two items",
        "Each status code comes back as asked",
        "Each status code comes back as asked",
        "A JSON body is sent as written",
        "Not ready yet",
    ]
    assert [len(p["steps"]) for p in pickles] == [4, 3, 3, 5, 2]
    assert set(keywords.values()) == {"Given ", "When ", "Then ", "And "}


@pytest.mark.browser
@needs_browser
def test_browser_steps_in_a_feature(project, site, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    feature = """\
Feature: Ordering in the browser
  Scenario: Ada orders
    Given I open "{{ base_url }}/page/form"
    Then the page title is "Order form"
    When I fill in:
      | field | value |
      | #name | Ada   |
      | #qty  | 2     |
    And I select "l" from "#size"
    And I click "#go"
    Then the page shows "Ordered 2 x l for Ada"
    And the element "#result" is visible
    And the URL contains "done=1"
    And I remember the text of "#heading" as heading
    And the variable heading is "Order"
"""
    execution, steps = run_case(bdd_case(project, feature), parameters={"base_url": site.url()})

    assert execution.status == S.PASSED, [s["error"] for s in steps if s["error"]]
    assert len(steps) == 10


def test_the_execution_page_groups_the_trace_by_scenario_and_example_with_arguments(
    client, owner, project, basket_definitions
):
    """Issue 15, "also found": the BDD trace was one flat list with the scenario's name on every
    row; outline examples looked the same; doc strings and tables were hidden."""
    feature = '''\
Feature: Basket
  Scenario: Counting
    Given the basket holds:
      | item  | count |
      | apple | 2     |
    Then the basket has 2 apple

  Scenario Outline: Setting
    Given I set colour to "<colour>"
    Then the variable colour is "<colour>"

    Examples:
      | colour |
      | red    |
      | blue   |

  Scenario: Notes
    Given the note says:
      """
      first line
      second line
      """
'''

    @step("the note says:")
    def the_note_says(ctx, doc):
        ctx.variables["note"] = doc

    try:
        execution, steps = run_case(bdd_case(project, feature))
    finally:
        remove_step(the_note_says)
    client.force_login(owner)
    html = client.get(f"/executions/{execution.pk}/").content.decode()

    groups = re.findall(r'<tr class="scenario-row"[^>]*><td colspan="5">(.*?)</td></tr>', html)
    text = [re.sub(r"<[^>]+>", "", g).strip() for g in groups]
    assert text == [
        "Scenario: Counting",
        "Scenario: Setting · example colour=red",
        "Scenario: Setting · example colour=blue",
        "Scenario: Notes",
    ]
    assert [s["example"] for s in steps if "example" in s] == ["colour=red"] * 2 + [
        "colour=blue"
    ] * 2
    table = re.search(r'<table class="datatable" data-role="data-table">(.*?)</table>', html)[1]
    assert re.sub(r"<[^>]+>", " ", table).split() == ["item", "count", "apple", "2"]
    assert "first line\nsecond line</pre>" in html
    trace = re.search(r'<tbody id="steps">.*?</tbody>', html, re.S)[0]
    assert "Counting ›" not in trace  # the step reads as its keyword and text under its group
