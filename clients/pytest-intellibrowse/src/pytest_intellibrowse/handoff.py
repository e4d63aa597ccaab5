"""The end of a session against a slow server: what the plugin could not deliver within its final
wait is handed to a detached `intellibrowse resend` process, so pytest exits at once and the
results still arrive. The token goes through the environment, never the command line (which
`ps` shows). If the CI job ends and kills that process first, the run ends `interrupted` when
its lease runs out, with what arrived; the spool file stays for a later resend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytest_intellibrowse.settings import ENV, Settings


def handoff_start(settings: Settings, spool: Path) -> tuple[int, Path]:
    """Start the resend of `spool` in a process of its own; answers its pid and its log."""
    log_path = spool.with_suffix(".log")
    env = {**os.environ, ENV["url"]: settings.url, ENV["token"]: settings.token}
    command = [sys.executable, "-m", "pytest_intellibrowse.cli", "resend", str(spool)]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives pytest, and a Ctrl-C meant for pytest
        )
    return proc.pid, log_path
