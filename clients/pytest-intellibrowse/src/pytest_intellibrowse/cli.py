"""`intellibrowse`: the command line.

    intellibrowse upload results.xml [more.xml ...]   any runner's JUnit XML, gzip on the wire
    intellibrowse resend SPOOL.jsonl                  what a pytest session could not deliver

Exit codes: 0 done (or the server had it already), 1 the server refused (the message says why),
2 a usage error (missing setting, unreadable file), 3 the server could not be reached, after
retries."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from pytest_intellibrowse import ci
from pytest_intellibrowse import settings as settings_mod
from pytest_intellibrowse.spool import spool_read
from pytest_intellibrowse.transport import Refused, Unreachable, request

OK, REFUSED, USAGE, UNREACHABLE = 0, 1, 2, 3
IMPORT_PATH = "/api/v1/imports/junit/"
RUNS_PATH = "/api/v1/reported-runs/"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    options = {name: getattr(args, name, None) for name in ("url", "token", "project")}
    options.update(revision=getattr(args, "revision", None), branch=getattr(args, "branch", None))
    try:
        if args.command == "resend":
            # The spool names the project and the run; only the address and the token are needed.
            options["project"] = options["project"] or "1"
        resolved = settings_mod.resolve(options)
    except settings_mod.SettingsError as error:
        print(f"intellibrowse: {error}", file=sys.stderr)
        return USAGE
    retry = Retry(args.retries, args.timeout)
    if args.command == "upload":
        return upload(resolved, args, retry)
    return resend(resolved, Path(args.spool), retry)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intellibrowse", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    env = settings_mod.ENV
    for name in ("upload", "resend"):
        sub = commands.add_parser(name)
        sub.add_argument("--url", help=f"the server's address ({env['url']})")
        sub.add_argument("--token", help=f"an API token; prefer {env['token']}")
        sub.add_argument(
            "--retries", type=int, default=5, help="retries of a failed request (default 5)"
        )
        sub.add_argument(
            "--timeout", type=float, default=120.0, help="seconds per request (default 120)"
        )
        if name == "upload":
            sub.add_argument("files", nargs="+", help="JUnit XML reports")
            sub.add_argument("--project", help=f"the project's id ({env['project']})")
            sub.add_argument(
                "--revision", help=f"the commit tested ({env['revision']}; detected in CI)"
            )
            sub.add_argument(
                "--branch", help=f"the branch tested ({env['branch']}; detected in CI)"
            )
            sub.add_argument("--environment", default=os.environ.get(env["environment"], ""))
            sub.add_argument(
                "--idempotency-key",
                help="the same key sends the same report once (default: this CI job and the "
                "file's name, or the file's content outside CI)",
            )
        else:
            sub.add_argument("spool", help="the spool file the pytest plugin named")
    return parser


class Retry:
    """Retries with exponential backoff (1, 2, 4 ... 30 s, or the server's Retry-After)."""

    def __init__(self, retries: int, timeout: float):
        self.retries = max(0, retries)
        self.timeout = timeout

    def __call__(self, what: str, send):
        delay = 1.0
        for attempt in range(self.retries + 1):
            try:
                return send(self.timeout)
            except Unreachable as error:
                if attempt == self.retries:
                    raise
                wait = error.retry_after if error.retry_after is not None else delay
                print(f"intellibrowse: {what}: {error}; again in {wait:.0f} s", file=sys.stderr)
                time.sleep(wait)
                delay = min(30.0, delay * 2)
        raise AssertionError("unreachable")


def upload(resolved: settings_mod.Settings, args, retry: Retry) -> int:
    worst = OK
    job = ci.job_key(os.environ)
    for name in args.files:
        path = Path(name)
        try:
            raw = path.read_bytes()
        except OSError as error:
            print(f"intellibrowse: cannot read {name}: {error.strerror}", file=sys.stderr)
            worst = max(worst, USAGE)
            continue
        key = args.idempotency_key or (f"{job}:{path.name}" if job else "")
        if args.idempotency_key and len(args.files) > 1:
            key = f"{args.idempotency_key}:{path.name}"
        key = key or "sha256:" + hashlib.sha256(raw).hexdigest()
        query = {
            "project": resolved.project,
            "revision": resolved.revision,
            "branch": resolved.branch,
        }
        if args.environment:
            query["environment"] = args.environment
        headers = {
            "Content-Type": "application/xml",
            "Content-Encoding": "gzip",
            "Idempotency-Key": key[:200],
        }
        body = gzip.compress(raw, 6)

        def send(timeout, body=body, query=query, headers=headers):
            return request(
                resolved.url,
                resolved.token,
                "POST",
                f"{IMPORT_PATH}?{urlencode(query)}",
                body=body,
                headers=headers,
                timeout=timeout,
            )

        try:
            status, answer = retry(name, send)
        except Unreachable as error:
            print(
                f"intellibrowse: {name}: not sent, the server did not answer: {error}",
                file=sys.stderr,
            )
            worst = max(worst, UNREACHABLE)
            continue
        except Refused as error:
            print(f"intellibrowse: {name}: refused: {error}", file=sys.stderr)
            worst = max(worst, REFUSED)
            continue
        print(_imported(name, status, answer, len(raw), len(body)))
    return worst


def _imported(name: str, status: int, answer: dict, size: int, sent: int) -> str:
    totals = answer.get("totals") or {}
    counts = ", ".join(
        f"{totals[k]} {k}" for k in ("passed", "failed", "error", "skipped") if totals.get(k)
    )
    said = "already imported" if status == 200 else "imported"
    text = f"{name}: {said} as import #{answer.get('id')}: {totals.get('tests', '?')} tests"
    text += f" ({counts})" if counts else ""
    text += f"; {size:,} bytes sent as {sent:,}"
    for note in answer.get("notes") or []:
        text += f"\n  note: {note.get('message', note)}"
    link = (answer.get("links") or {}).get("self")
    return text + (f"\n  {link}" if link else "")


def resend(resolved: settings_mod.Settings, path: Path, retry: Retry) -> int:
    """Send what a spool holds: the undelivered batches to its run while that run is open, or
    every batch to a new run when it has ended; then close the run as the session ended."""
    try:
        held = spool_read(path)
    except OSError as error:
        print(f"intellibrowse: cannot read {path}: {error.strerror}", file=sys.stderr)
        return USAGE
    if not held["open"]:
        print(f"intellibrowse: {path} is not a spool file of the pytest plugin", file=sys.stderr)
        return USAGE

    def call(method, api_path, payload=None):
        def send(timeout):
            return request(
                resolved.url, resolved.token, method, api_path, payload=payload, timeout=timeout
            )

        return retry(api_path, send)[1]

    try:
        run, batches = held["run"], held["batches"]
        found = call("GET", f"{RUNS_PATH}{run['id']}/") if run else {}
        if found.get("status") == "running":
            batches = [b for b in batches if b[0] not in held["delivered"]]
        elif found and found["status"] != "interrupted":
            # Closed by the session itself after all (its last request got through late).
            print(f"run #{run['id']} is closed already ({found['status']}): nothing to send")
            path.unlink()
            return OK
        else:  # never opened, or ended by its lease: everything goes to a new run
            opened = dict(held["open"])
            if run:
                opened["labels"] = {**opened.get("labels", {}), "continues_run": str(run["id"])}
            run = call("POST", RUNS_PATH, opened)
        for batch_id, results in batches:
            call(
                "POST",
                f"{RUNS_PATH}{run['id']}/batches/",
                {"batch_id": batch_id, "results": results},
            )
        closed = call(
            "POST", f"{RUNS_PATH}{run['id']}/close/", {"outcome": held["close"] or "error"}
        )
    except Unreachable as error:
        print(f"intellibrowse: the server did not answer: {error}", file=sys.stderr)
        return UNREACHABLE
    except Refused as error:
        print(f"intellibrowse: refused: {error}", file=sys.stderr)
        return REFUSED
    sent = sum(len(results) for _, results in batches)
    print(
        f"{sent} result(s) sent to run #{run['id']} ({closed.get('status')}): {closed.get('dashboard_url', '')}"
    )
    path.unlink()
    return OK


if __name__ == "__main__":
    sys.exit(main())
