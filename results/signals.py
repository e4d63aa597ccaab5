"""What the results app tells the apps above it (triage), which it must not import.

Sent synchronously inside the transaction that wrote the results, so a receiver's writes commit
or roll back with them (failure groups are kept "at write time", in the same commit). Receivers
are connected in their apps' ready().
"""

from django.dispatch import Signal

from results.models import FAILING_OUTCOMES

# Results of one run were written. Keyword arguments:
# - project_id, branch, revision;
# - run: a RunRef (results.runs) naming the run the results belong to (a suite run, a case
#   run, an import);
# - failures: [{"id", "case_id", "signature", "outcome", "message", "error_type"}] of the
#   failed and errored results just written, signed;
# - passed: case ids that passed in this write;
# - previous: {case id: its last decisive outcome before this write} ("passed", "failed",
#   "error"; missing for a case's first result), from results.history.
results_recorded = Signal()

FAILURE_FIELDS = ("id", "case_id", "signature", "outcome", "message")


def failures_of(results, *also: str) -> list[dict]:
    """The failed and errored results of a CaseResult queryset, in id order, as `failures` above
    (read back after a bulk insert, which returns no ids); `also`: more columns for the caller's
    own sifting, which it removes before sending."""
    return [
        {**row, "error_type": row.pop("details__type") or ""}
        for row in results.filter(outcome__in=FAILING_OUTCOMES)
        .order_by("id")
        .values(*FAILURE_FIELDS, *also, "details__type")
    ]
