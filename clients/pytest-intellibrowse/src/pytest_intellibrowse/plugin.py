"""The pytest plugin (entry point `pytest11: intellibrowse`): reports each test's result to an
IntelliBrowse reported run while the session goes on.

Active only when an address is given (--ib-url or INTELLIBROWSE_URL). Under pytest-xdist only the
controller reports: xdist forwards each worker's reports to the controller's
pytest_runtest_logreport, so all workers' results go into the controller's one run. A setting
that is missing or wrong is said in the terminal and switches reporting off; it never fails the
session (a fork's pull request has no secrets, and its tests should still run)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from pytest_intellibrowse import settings as settings_mod
from pytest_intellibrowse.handoff import handoff_start
from pytest_intellibrowse.reporter import Reporter
from pytest_intellibrowse.results import Collector, collection_error

PREFIX = "IntelliBrowse:"
# pytest's exit status -> the run's outcome. 2 (interrupted, or errors while collecting), 3
# (internal error) and 4 (usage error) are errors.
OUTCOMES = {0: "passed", 1: "failed", 5: "passed"}


def pytest_addoption(parser):
    group = parser.getgroup("intellibrowse", "report results to IntelliBrowse while tests run")
    env = settings_mod.ENV

    def option(name, help_text, **kwargs):
        group.addoption(
            f"--ib-{name.replace('_', '-')}", dest=f"ib_{name}", help=help_text, **kwargs
        )

    option("url", f"the server's address, e.g. https://intellibrowse.example ({env['url']})")
    option("token", f"an API token; prefer the environment variable ({env['token']})")
    option("project", f"the project's id ({env['project']})")
    option("suite", f"the suite the results belong to; default pytest ({env['suite']})")
    option("revision", f"the commit tested ({env['revision']}; detected in GitHub/GitLab CI)")
    option("branch", f"the branch tested ({env['branch']}; detected in GitHub/GitLab CI)")
    option("environment", f"where the tests ran, e.g. staging ({env['environment']})")
    option(
        "label", f"key=value, repeatable ({env['labels']}: k=v,k=v)", action="append", default=[]
    )
    option("ci_url", f"the CI job's address ({env['ci_url']}; detected in GitHub/GitLab CI)")
    option(
        "lease",
        f"seconds of silence after which the server ends the run as interrupted; default 120 ({env['lease']})",
    )
    option(
        "spool_dir", f"where undelivered batches are kept ({env['spool']}; default: pytest's cache)"
    )
    option(
        "final_timeout",
        "seconds the session waits at its end for a slow server; what is left then is "
        "delivered by a process of its own; default 5",
        type=float,
        default=5.0,
    )


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports for it
        return
    if config.getoption("collectonly", False):  # nothing runs: no run to report
        return
    options = {
        "url": config.getoption("ib_url"),
        "token": config.getoption("ib_token"),
        "project": config.getoption("ib_project"),
        "suite": config.getoption("ib_suite"),
        "revision": config.getoption("ib_revision"),
        "branch": config.getoption("ib_branch"),
        "environment": config.getoption("ib_environment"),
        "labels": config.getoption("ib_label"),
        "ci_url": config.getoption("ib_ci_url"),
        "lease": config.getoption("ib_lease"),
        "spool": config.getoption("ib_spool_dir"),
    }
    if not settings_mod.wanted(options, os.environ):
        return
    try:
        resolved = settings_mod.resolve(options)
    except settings_mod.SettingsError as error:
        config.pluginmanager.register(Misconfigured(str(error)), "intellibrowse-misconfigured")
        return
    config.pluginmanager.register(LiveReport(config, resolved), "intellibrowse-live")


class Misconfigured:
    def __init__(self, reason: str):
        self.reason = reason

    def pytest_report_header(self):
        return f"{PREFIX} not reporting: {self.reason}"

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(f"{PREFIX} not reported: {self.reason}", yellow=True)


class LiveReport:
    def __init__(self, config, settings: settings_mod.Settings):
        self.config = config
        self.settings = settings
        self.collector = Collector()
        self.reporter: Reporter | None = None
        self.handoff: tuple[int, Path] | None = None

    def _spool_folder(self) -> str:
        if self.settings.spool_dir:
            return self.settings.spool_dir
        cache = getattr(self.config, "cache", None)
        if cache is not None:
            return str(cache.mkdir("intellibrowse"))
        return tempfile.gettempdir()

    def _say(self, text: str, **markup) -> None:
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(f"{PREFIX} {text}", **markup)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        self.reporter = Reporter(self.settings, self._spool_folder())
        run = self.reporter.start(open_timeout=3.0)
        if run is not None:
            self._say(f"reporting to run #{run['id']}: {run['dashboard_url']}")
        elif self.reporter.delivery.fatal:
            self._say(f"not reporting: {self.reporter.delivery.fatal}", yellow=True)
        else:
            self._say(
                f"{self.settings.url} does not answer ({self.reporter.delivery.last_error}); "
                "results are kept and sent when it does",
                yellow=True,
            )

    def pytest_runtest_logreport(self, report):
        for result in self.collector.add(report):
            self.reporter.add(result)

    def pytest_collectreport(self, report):
        if report.failed:
            self.reporter.add(collection_error(report))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.reporter is None:
            return
        for result in self.collector.unfinished():
            self.reporter.add(result)
        outcome = OUTCOMES.get(int(exitstatus), "error")
        self.reporter.finish(outcome, timeout=self.config.getoption("ib_final_timeout"))
        if self.reporter.slow:
            self.handoff = handoff_start(self.settings, self.reporter.spool.path)

    def pytest_terminal_summary(self, terminalreporter):
        if self.reporter is None:
            return
        for line, markup in summary_lines(self.reporter, self.handoff):
            terminalreporter.write_line(f"{PREFIX} {line}", **markup)


def summary_lines(reporter: Reporter, handoff=None) -> list[tuple[str, dict]]:
    """What the terminal summary says about the delivery: where the results are, what went wrong
    on the way and what was done about it."""
    d = reporter.delivery
    lines: list[tuple[str, dict]] = []
    warn = {"yellow": True}
    if d.fatal:
        lines.append((f"stopped reporting: {d.fatal}", {"red": True}))
    undelivered = reporter.undelivered
    if d.outages:
        longest = max(d.longest_outage, time.monotonic() - d.down_since if d.down_since else 0)
        after = "; the tests went on"
        if d.down_since is None and not undelivered and handoff is None:
            after += ", and every result arrived once it answered again"
        lines.append(
            (
                f"the server did not answer {d.outages} time(s), for up to {longest:.1f} s "
                f"({d.last_error}){after}",
                warn,
            )
        )
    for refused in d.refused:
        lines.append((f"refused: {refused}", warn))
    if d.repeated:
        lines.append(
            (
                f"{d.repeated} batch(es) sent again after a lost answer; the server kept each once",
                {},
            )
        )
    if handoff is not None:
        pid, log = handoff
        lines.append(
            (
                f"{undelivered} result(s) still on their way: the server is slow, so process "
                f"{pid} goes on delivering them and closes the run (log: {log})",
                warn,
            )
        )
    elif undelivered:
        lines.append(
            (
                f"{undelivered} result(s) not delivered; they are kept in {reporter.spool.path}. "
                f"Send them with: intellibrowse resend {reporter.spool.path}",
                {"red": True},
            )
        )
    for run in d.runs:
        status = d.closed if run is d.runs[-1] and d.closed else "open"
        if run is not d.runs[-1]:
            status = "ended by the server"
        lines.append((f"run #{run['id']} ({status}): {run['dashboard_url']}", {}))
    if d.runs and not undelivered:
        lines.append((f"{d.delivered} result(s) delivered", {"green": True}))
    return lines
