"""A deleted row hangs nothing (sql/*/160_deleted_rows.sql), on every backend: rows waiting on it fail
naming it (and their dependants after them), an orchestrator awaiting it fails the same way,
`pending_count` stops counting them, and a dependency cycle made by UPDATE is refused."""
from __future__ import annotations

import pytest

from source.queue.model import NewTask, Status


def _delete(queue, task_id: str) -> None:
    queue.target.execute("DELETE FROM tasks WHERE id = ?", "DELETE FROM tasks WHERE id = %s", (task_id,))


def test_a_deleted_dependency_fails_its_dependants_naming_it(queue_factory):
    queue = queue_factory()
    [parent, child, grandchild] = queue.enqueue([
        NewTask("noop", {}, id="p"), NewTask("noop", {}, id="c", dependant_on=["p"]),
        NewTask("noop", {}, id="g", dependant_on=["c"])])
    [other] = queue.enqueue([NewTask("noop", {})])
    assert queue.pending_count() == 4
    _delete(queue, parent)
    assert queue.get(child).status == Status.FAILED
    assert queue.get(child).error_message == "dependency p was deleted"
    assert queue.get(grandchild).status == Status.FAILED
    assert queue.get(grandchild).error_message == "dependency c failed: dependency p was deleted"
    assert queue.pending_count() == 1                     # only the row that can still run
    assert queue.claim("w", 30).task.id == other
    assert queue.claim("w", 30) is None


def test_an_orchestrator_whose_awaited_child_is_deleted_fails(queue_factory):
    queue = queue_factory()
    [orchestrator] = queue.enqueue([NewTask("noop", {}, id="orch")])
    claim = queue.claim("w", 30)
    assert queue.fan_out(claim, [NewTask("noop", {}, id="step1"), NewTask("noop", {}, id="step2",
                                                                           dependant_on=["step1"])], "step2")
    assert queue.get(orchestrator).status == Status.IN_PROGRESS
    _delete(queue, "step2")
    row = queue.get(orchestrator)
    assert row.status == Status.FAILED and row.error_message == "awaited task step2 was deleted"
    assert queue.pending_count() == 1                     # step1 still runs; nothing waits for ever


def test_a_dependency_cycle_made_by_update_is_refused(queue_factory):
    queue = queue_factory()
    queue.enqueue([NewTask("noop", {}, id="a"), NewTask("noop", {}, id="b", dependant_on=["a"]),
                   NewTask("noop", {}, id="c", dependant_on=["b"])])
    for bad, message in (('["c"]', "cycle"), ('["a"]', "itself"), ('["nope"]', "does not exist")):
        with pytest.raises(Exception, match=message):
            queue.target.execute("UPDATE tasks SET dependant_on = ? WHERE id = 'a'",
                                 "UPDATE tasks SET dependant_on = %s WHERE id = 'a'", (bad,))
    assert queue.get("a").dependant_on == [] and queue.get("a").status == Status.QUEUED
    # an accepted change is followed: c now waits on a only, and runs once a is done
    queue.target.execute("UPDATE tasks SET dependant_on = ? WHERE id = 'c'",
                         "UPDATE tasks SET dependant_on = %s WHERE id = 'c'", ('"a"',))
    assert queue.get("c").dependant_on == ["a"]
    claim = queue.claim("w", 30)
    assert claim.task.id == "a" and queue.complete(claim, None)
    claimed = {queue.claim("w", 30).task.id, queue.claim("w", 30).task.id}
    assert claimed == {"b", "c"}
