"""The local spool: every batch is written here before it is sent, and marked once the server
has it. A session that ends while the server is down (or a process killed outright) leaves the
file behind; `intellibrowse resend FILE` sends what it holds later. One JSON object per line:

    {"open": {...}}                      the body that opens the run (first line)
    {"run": {"id": ..., "dashboard_url": ...}}
    {"batch": "<batch id>", "results": [...]}
    {"delivered": "<batch id>"}
    {"close": "passed" | "failed" | "error"}
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class Spool:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held for the session)
        self._lock = threading.Lock()  # the session's thread and the sender's both write

    def write(self, record: dict) -> None:
        # One write per line and a flush: a killed process leaves whole lines behind.
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()

    def discard(self) -> None:
        """Everything arrived: the file has no more use."""
        self.close()
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def spool_read(path: Path) -> dict:
    """What a spool file holds: {"open", "run", "batches": [(id, results)], "delivered": set,
    "close"}. A last line cut short by a kill is ignored."""
    held: dict = {"open": None, "run": None, "batches": [], "delivered": set(), "close": ""}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "batch" in record:
                held["batches"].append((record["batch"], record["results"]))
            elif "delivered" in record:
                held["delivered"].add(record["delivered"])
            else:
                held.update(record)
    return held


def spool_path(folder: str | os.PathLike, session_id: str) -> Path:
    return Path(folder) / f"intellibrowse-{session_id}.jsonl"
