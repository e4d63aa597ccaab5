"""What the executions app tells the apps above it (results, live), which it must not import.

Both are sent synchronously, inside the writing transaction, so a receiver's writes commit or
roll back with the change that caused them, and a receiver that wants to act after the commit
registers its own transaction.on_commit. Receivers are connected in their apps' ready().
"""

from django.dispatch import Signal

# An execution is about to be saved finished (passed, failed, error, cancelled, timed out).
# Sent in a savepoint of the finishing transaction, with `execution`; a receiver that records
# the result sets `execution.rolled_up = True`, which the finish then saves. A receiver that
# fails rolls back only its own savepoint: the finish still commits, not rolled up, and the
# backstop task (results.tasks.process_pending) records it later.
execution_finishing = Signal()

# Events were inserted into an execution's log: `execution` and the saved `events`, in order.
events_recorded = Signal()

# A batch of results was appended to a reported run (executions.services.reported), sent inside
# the appending transaction with `execution` (locked, its suite loaded) and `steps` (the batch's
# results as trace steps, with their `order`): results records them as case results, history and
# flaky verdicts, so they commit, or roll back, with the batch that brought them. Sent once per
# batch id: a retried batch is answered from its ReportedBatch row and sends nothing.
reported_results_appended = Signal()
