"""A qcluster worker is frozen (SIGSTOP) mid-step; the watchdog of the other worker recovers the
stale lease and attempt 2 runs there; the first worker is woken (SIGCONT) past its own deadline.
It must write nothing into attempt 2 (no step, no event, no time-out): it no longer holds the
run, and attempt 2 still has its own deadline. The run then ends as attempt 2 decides.

The case waits at a gate (tests/executions/gate_steps.py) that the test opens, so the order of
events is driven by conditions, not by guessing how long steps take on a loaded machine.
"""

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import CaseType
from executions.models import AttemptReason, EventKind, Execution, ExecutionStatus
from executions.traces import trace_steps
from monitoring.models import WorkerHeartbeat
from tests.factories import TestCaseFactory, execution_for
from tests.live import live_env, qcluster, wait_until

S = ExecutionStatus
pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

# Attempt 1's deadline passes while it is frozen; attempt 2 starts at least a lease later, so it
# still has LEASE_SECONDS of its own deadline left when the first worker wakes up.
CASE_TIMEOUT_SECONDS = 12
LEASE_SECONDS = 5
GATE_MODULE = "tests.executions.gate_steps"


def gated_case(project, kind: str, gate):
    if kind == CaseType.BDD:
        feature = (
            "Feature: Frozen worker\n"
            "  Scenario: Waits at the gate\n"
            '    Given I set fruit to "apple"\n'
            f'    When the gate at "{gate}" opens\n'
            '    Then the variable fruit is "apple"\n'
        )
        return TestCaseFactory(project=project, type=CaseType.BDD, steps=[], feature=feature)
    return TestCaseFactory(
        project=project,
        steps=[
            {"name": "before", "action": "set", "params": {"values": {"fruit": "apple"}}},
            {
                "name": "gate",
                "action": "python",
                "params": {"check": "gate_opens", "args": {"folder": str(gate)}},
            },
            {"name": "after", "action": "set", "params": {"values": {"done": True}}},
        ],
    )


def pid_of(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


@pytest.mark.parametrize("kind", [CaseType.GENERIC, CaseType.BDD])
def test_a_woken_frozen_worker_writes_nothing_into_the_attempt_that_took_over(
    project, tmp_path, kind
):
    gate = tmp_path / "gate"
    gate.mkdir()
    case = gated_case(project, kind, gate)
    log = tmp_path / "qcluster.log"
    env = live_env(
        Q_WORKERS="2",
        IB_LEASE_SECONDS=str(LEASE_SECONDS),
        IB_STEP_MODULES=GATE_MODULE,
        IB_CHECK_MODULES=GATE_MODULE,
    )
    with qcluster(env, log):
        execution = execution_for(case, timeout_seconds=CASE_TIMEOUT_SECONDS)
        wait_until(lambda: (gate / "arrived-1").exists(), timeout=60, what="attempt 1 at the gate")
        frozen = Execution.objects.get(pk=execution.pk).worker
        os.kill(pid_of(frozen), signal.SIGSTOP)
        try:
            wait_until(
                lambda: (gate / "arrived-2").exists(),
                timeout=60,
                what="attempt 2 at the gate on the other worker",
            )
            taken = Execution.objects.get(pk=execution.pk)
            assert (taken.status, taken.attempt_count) == (S.RUNNING, 2)
            assert taken.worker not in ("", frozen)
            attempt_1 = execution.attempts.get(number=1)
            deadline_1 = attempt_1.started_at + timedelta(seconds=CASE_TIMEOUT_SECONDS)
            wait_until(
                lambda: timezone.now() > deadline_1 + timedelta(seconds=0.5),
                timeout=CASE_TIMEOUT_SECONDS + 10,
                what="attempt 1's deadline to pass",
            )
            assert Execution.objects.get(pk=execution.pk).deadline_at > timezone.now()
        finally:
            woken_at = timezone.now()
            os.kill(pid_of(frozen), signal.SIGCONT)

        # Woken past its deadline, the first worker stops its step and tries to end its attempt,
        # then lets go of the run: its watchdog reports it alive and running nothing.
        wait_until(
            lambda: WorkerHeartbeat.objects.filter(
                worker_id=frozen, last_seen__gt=woken_at, running=[]
            ).exists(),
            timeout=60,
            what="the woken worker to let go of the run",
        )
        (gate / "open").touch()
        wait_until(
            lambda: Execution.objects.get(pk=execution.pk).is_terminal,
            timeout=60,
            what="attempt 2 to finish",
        )

    execution.refresh_from_db()
    output = log.read_text()[-4000:]
    assert execution.status == S.PASSED, (execution.status_reason, output)
    attempts = list(execution.attempts.order_by("number"))
    assert [(a.reason, a.outcome) for a in attempts] == [
        (AttemptReason.FIRST, S.ERROR),
        (AttemptReason.WORKER_LOST, S.PASSED),
    ]
    assert attempts[1].worker not in ("", frozen)
    steps = trace_steps(attempts[1].trace)
    assert [s["order"] for s in steps] == [1, 2, 3]
    assert {s["attempt"] for s in steps} == {2}
    took_over = execution.events.get(kind=EventKind.ATTEMPT, attempt_number=2).seq
    late = execution.events.filter(seq__gt=took_over, actor_label=f"worker {frozen}")
    assert list(late.values_list("kind", "reason")) == []
    assert f"from worker {frozen} for attempt 1" in log.read_text()  # refused, and logged
