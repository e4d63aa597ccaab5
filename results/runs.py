"""The one name of "a run" that results, failure groups and reports share.

A suite run's children are one run (their parent's); a case run on its own is a run; a JUnit
import is a run. Reported runs are executions, so they are named like any other."""

from typing import NamedTuple


class RunRef(NamedTuple):
    kind: str  # "execution" or "import"
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> "RunRef":
        kind, _, number = key.partition(":")
        return cls(kind, int(number))

    @classmethod
    def of_execution(cls, execution) -> "RunRef":
        return cls("execution", execution.parent_id or execution.pk)

    @classmethod
    def of_batch(cls, batch_id: int) -> "RunRef":
        return cls("import", batch_id)
