"""One migrated database per test run, cloned by each pytest-xdist process.

Every test process used to build its test database by running all migrations: with coverage on,
about 8 s of CPU each, four times over on two cores. Now the controlling process migrates a
template once (`create`, before the processes start; the migrations run as they always do), each
process clones it under its own test database name (`clone`: a file copy on SQLite,
`CREATE DATABASE ... TEMPLATE` on PostgreSQL) and lets pytest-django keep it, which still runs
`migrate` (nothing left to apply) and its post_migrate handlers. A run without xdist migrates
as before. tests/test_migrations_move.py still migrates back and forth on the clone.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# Handed from the controlling process to the test processes it starts (they inherit its env).
TEMPLATE_ENV = "IB_TEST_TEMPLATE_DB"


def _db() -> dict:
    return settings.DATABASES["default"]


def _is_sqlite() -> bool:
    return _db()["ENGINE"].endswith("sqlite3")


def _postgres(dbname: str):
    import psycopg

    db = _db()
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def _url(name: str) -> str:
    db = _db()
    if _is_sqlite():
        return f"sqlite:///{name}"
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _drop(name: str) -> None:
    if _is_sqlite():
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
        return
    with _postgres("postgres") as conn:
        # FORCE: a live test's server or worker process may still hold a connection.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create() -> None:
    """In the controlling process: migrate the template and name it to the processes to come."""
    if _is_sqlite():
        name = str(Path(_db()["TEST"]["NAME"]).with_suffix(".template.sqlite3"))
        _drop(name)
    else:
        name = f"{_db()['TEST']['NAME']}_template"
        _drop(name)
        with _postgres("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": _url(name)}
    migrate = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "--skip-checks"]
    done = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        _drop(name)
        raise RuntimeError(f"migrating the template test database failed:\n{done.stderr}")
    os.environ[TEMPLATE_ENV] = name


def drop_template() -> None:
    if name := os.environ.pop(TEMPLATE_ENV, None):
        _drop(name)


def clone() -> str | None:
    """In a test process: copy the template to this process's test database name (pytest-django
    has set it by now), and return that name; None when there is no template."""
    template = os.environ.get(TEMPLATE_ENV)
    if not template:
        return None
    name = _db()["TEST"]["NAME"]
    _drop(name)
    if _is_sqlite():
        shutil.copyfile(template, name)
    else:
        with _postgres("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name


def drop_clone(name: str) -> None:
    _drop(name)
