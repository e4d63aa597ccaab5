"""The pytest plugin's overhead: the wall time of a 10,000-test pytest session with the plugin
reporting to a real server, against the same session without it (`-p no:intellibrowse`).

The sessions run one after the other in alternating order (off, on, on, off, ...) so that a
machine that gets busier or quieter during the benchmark weighs on both alike. Each session is a
fresh `python -m pytest` process over 100 generated modules of 100 trivial tests; its wall time
is measured from outside, start-up and the plugin's final delivery included. The server is a
uvicorn on a scratch PostgreSQL database, with production settings, on the same machine (so it
takes its CPU from the same cores as the tests: the figure is pessimistic for a CI job reporting
to a remote server).

With --away the plugin reports to a closed port instead: what it costs the session by itself
(each result collected, batched and written to the spool; one try to send at the start and one
at the end), without a server working on the same two cores.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/plugin_overhead.py
[--away]. It re-creates its own database, ib_bench_plugin, and prints a Markdown table.
"""

import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import OUT, PRODUCTION_LIKE, child, scratch_database, setup_django, wait_until

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_session(folder: Path, tests: int) -> None:
    (folder / "pytest.ini").write_text("[pytest]\n")
    per_module = 100
    for module in range(tests // per_module):
        body = "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(per_module))
        (folder / f"test_gen_{module:04d}.py").write_text(body)


def token_for_bench() -> tuple[int, str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from catalog.models import Membership, Project, Role

    user = get_user_model().objects.create_user("ci-bench")
    project = Project.objects.create(name="Plugin bench", slug="plugin-bench")
    Membership.objects.create(project=project, user=user, role=Role.TESTER)
    return project.pk, Token.objects.create(user=user).key


def session(folder: Path, env: dict, plugin: bool) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the pytest process, its output's last lines)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django"]
    if not plugin:
        command += ["-p", "no:intellibrowse"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"the session failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def delivered(output: str, port: int, token: str, tests: int) -> str:
    """Wait for the session's run to be closed with every result; say how it went."""
    import httpx

    run_id = int(re.search(r"IntelliBrowse: reporting to run #(\d+)", output).group(1))
    handed = "still on their way" in output
    started = time.perf_counter()

    def closed():
        run = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/reported-runs/{run_id}/",
            headers={"Authorization": f"Token {token}"},
            timeout=30,
        ).json()
        return run if run["status"] != "running" else None

    run = wait_until(closed, timeout=1800, interval=0.5)
    if run is None or run["summary"]["steps_done"] != tests:
        raise SystemExit(f"run #{run_id} did not get every result: {run}\n{output[-2000:]}")
    after = time.perf_counter() - started
    how = f"handed to a helper, complete {after:.0f} s later" if handed else "complete at exit"
    return f"run #{run_id}: {tests:,} results, {run['status']}, {how}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="sessions with and without, each")
    parser.add_argument(
        "--away",
        action="store_true",
        help="point the plugin at a closed port: its own cost (results collected, batched and "
        "spooled, one try to send) without a server's work on the same cores",
    )
    args = parser.parse_args()

    database = scratch_database("ib_bench_plugin")
    setup_django(database, **PRODUCTION_LIKE)
    project, token = token_for_bench()
    port = free_port()
    server_env = {**os.environ, **PRODUCTION_LIKE, "DATABASE_URL": database}
    server_env.update(IB_ALERT_EVALUATE_SECONDS="0", REDIS_URL="", IB_MAX_BODY_BYTES=str(4 << 20))
    server_args = [sys.executable, "-m", "uvicorn", "intellibrowse.asgi:application"]
    server_args += ["--port", str(port), "--no-access-log", "--log-level", "warning"]

    session_env = {k: v for k, v in os.environ.items() if not k.startswith("INTELLIBROWSE_")}
    session_env.pop("DJANGO_SETTINGS_MODULE", None)
    spool = tempfile.mkdtemp(prefix="ib-bench-spool-")
    session_env["INTELLIBROWSE_SPOOL_DIR"] = spool
    session_env.update(
        INTELLIBROWSE_URL=f"http://127.0.0.1:{free_port() if args.away else port}",
        INTELLIBROWSE_TOKEN=token,
        INTELLIBROWSE_PROJECT=str(project),
    )
    figures: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with (
        tempfile.TemporaryDirectory() as folder,
        child(server_args, server_env, "uvicorn-plugin.log") as server,
    ):
        import httpx

        def up():
            assert server.poll() is None, f"the server exited (see {OUT}/uvicorn-plugin.log)"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=60)
        write_session(Path(folder), args.tests)
        session(Path(folder), session_env, plugin=False)  # warm the file cache and bytecode
        for round_number in range(args.rounds):
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for plugin in order:
                wall, cpu, output = session(Path(folder), session_env, plugin)
                figures[plugin].append((wall, cpu))
                label = "with the plugin" if plugin else "without"
                print(f"round {round_number + 1}: {label:16} {wall:6.2f} s wall, {cpu:6.2f} s CPU")
                if plugin and args.away:
                    if "not delivered; they are kept in" not in output:
                        raise SystemExit(f"the results were not spooled:\n{output[-2000:]}")
                elif plugin:
                    # Not measured: the next session starts once this one's run is complete, so
                    # a helper still delivering (a slow server) does not weigh on it.
                    print("  " + delivered(output, port, token, args.tests), flush=True)

    off_wall = statistics.median(w for w, _ in figures[False])
    on_wall = statistics.median(w for w, _ in figures[True])
    off_cpu = statistics.median(c for _, c in figures[False])
    on_cpu = statistics.median(c for _, c in figures[True])
    shutil.rmtree(spool, ignore_errors=True)  # --away leaves every session's spool there
    where = "no server (a closed port)" if args.away else "a local server"
    print()
    print(
        f"| {args.tests:,} trivial tests, {args.rounds} sessions each, {where} | wall (median) "
        "| CPU of pytest (median) |"
    )
    print("|---|---|---|")
    print(f"| without the plugin | {off_wall:.2f} s | {off_cpu:.2f} s |")
    print(f"| with the plugin | {on_wall:.2f} s | {on_cpu:.2f} s |")
    print(
        f"| overhead | **{(on_wall / off_wall - 1) * 100:+.1f} %** | "
        f"{(on_cpu / off_cpu - 1) * 100:+.1f} % |"
    )


if __name__ == "__main__":
    main()
