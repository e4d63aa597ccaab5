"""A check module loaded through the IB_CHECK_MODULES setting in test_action_python.py."""

from runners.checks import CheckFailed, check


@check("sample_is_even")
def sample_is_even(ctx, *, number: int) -> dict:
    """The number is even."""
    if int(number) % 2:
        raise CheckFailed(f"{number} is odd", actual={"number": number}, suggestion="Try 2.")
    return {"number": number, "even": True}


@check("sample_asserts")
def sample_asserts(ctx, *, value: str) -> str:
    assert value == "yes", f"value is {value!r}"
    return value


@check("sample_crashes")
def sample_crashes(ctx) -> None:
    raise RuntimeError("the check itself is broken")
