"""Execution.refresh_from_db in threads: django-fsm lifts the status field's protection,
process-wide, for as long as a refresh reloads. A refresh that began while another was under way
(the web process answers in threads) failed when the first one ended and turned protection back
on: "Direct status modification is not allowed", the 500s an outsider's parallel reported-run
calls got."""

import threading

import pytest
from django.db import connection

from executions.models import Execution
from tests.factories import TestCaseFactory, execution_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refresh_that_began_during_another_survives_its_end():
    pk = execution_for(TestCaseFactory()).pk
    errors, first_done, second_reloading, second = [], threading.Event(), threading.Event(), []

    def second_request():
        execution = Execution.objects.get(pk=pk)

        def after_the_first(execute, sql, params, many, context):
            second_reloading.set()
            first_done.wait(timeout=10)  # the first refresh ends while this one reloads
            return execute(sql, params, many, context)

        try:
            with connection.execute_wrapper(after_the_first):
                execution.refresh_from_db()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def start_the_second(execute, sql, params, many, context):
        if not second:  # the first refresh is under way: protection lifted, query not yet run
            second.append(threading.Thread(target=second_request))
            second[0].start()
            # Unserialised, the second is reloading within moments; serialised, it waits for
            # this one to end, and so does not get there.
            second_reloading.wait(timeout=2)
        return execute(sql, params, many, context)

    execution = Execution.objects.get(pk=pk)
    with connection.execute_wrapper(start_the_second):
        execution.refresh_from_db()
    first_done.set()
    second[0].join(timeout=30)

    assert errors == []
    assert Execution._meta.get_field("status").protected
