"""Queue semantics, the same tests on every backend (`queue_factory`, tests/helpers/queue.py)."""
from __future__ import annotations

import json
import time
from datetime import timedelta, timezone

import pytest

from source.queue.factory import open_queue
from source.queue.model import InvalidTask, NewTask, Status
from source.queue.rows import utc_now

LEASE = 30.0


def run_one(queue, worker="w", output=None, **claim_args):
    claim = queue.claim(worker, LEASE, **claim_args)
    assert claim is not None, "expected an eligible row"
    assert queue.complete(claim, output or f"out-{claim.task_id}")
    return claim.task_id


def test_claim_order_is_priority_then_age(queue_factory):
    queue = queue_factory()
    old, new, urgent = NewTask("t", {"n": 1}), NewTask("t", {"n": 2}), NewTask("t", {"n": 3}, priority=5)
    queue.enqueue([old])
    queue.enqueue([new])
    queue.enqueue([urgent])
    order = [run_one(queue) for _ in range(3)]
    assert order == [urgent.id, old.id, new.id]
    assert queue.claim("w", LEASE) is None


def test_batch_keeps_insertion_order_for_equal_rows(queue_factory):
    queue = queue_factory()
    batch = [NewTask("t", {"i": i}) for i in range(6)]
    queue.enqueue(batch)
    assert [run_one(queue) for _ in batch] == [t.id for t in batch]


def test_claim_sets_owner_lease_attempt_and_utc_times(queue_factory):
    queue = queue_factory()
    [task_id] = queue.enqueue([NewTask("t", {"prompt": "a cat"}, run_id="r1", project_id="p1")])
    before = utc_now()
    claim = queue.claim("worker-a", 60)
    task = claim.task
    assert (task.id, task.status, task.worker_id, task.attempts, claim.attempt) == \
        (task_id, Status.IN_PROGRESS, "worker-a", 1, 1)
    assert task.params == {"prompt": "a cat"} and (task.run_id, task.project_id) == ("r1", "p1")
    assert task.started_at.tzinfo is not None and task.started_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= task.started_at <= utc_now() + timedelta(seconds=1)
    assert timedelta(seconds=55) < task.lease_expires_at - task.started_at <= timedelta(seconds=61)
    assert queue.complete(claim, "/tmp/x.mp4")
    done = queue.get(task_id)
    assert done.status == Status.COMPLETE and done.output_location == "/tmp/x.mp4"
    assert done.finished_at >= done.started_at >= done.created_at
    assert done.created_at.astimezone(timezone.utc).microsecond != 0 or done.updated_at.microsecond != 0


def test_task_types_filter_and_model_preference(queue_factory):
    queue = queue_factory()
    a = NewTask("render", {"model": "vace_14B"})
    b = NewTask("render", {"model_name": "t2v_1.3B"})
    c = NewTask("stitch", {})
    queue.enqueue([a, b, c])
    assert queue.claim("w", LEASE, task_types=["nothing"]) is None
    got = queue.claim("w", LEASE, task_types=["stitch"])
    assert got.task_id == c.id
    preferred = queue.claim("w", LEASE, prefer_model="t2v_1.3B")
    assert preferred.task_id == b.id  # b is younger than a but matches the loaded model
    assert queue.claim("w", LEASE, prefer_model="other").task_id == a.id


def test_chain_runs_in_order(queue_factory):
    queue = queue_factory()
    first = NewTask("t", {})
    second = NewTask("t", {}, dependant_on=[first.id])
    third = NewTask("t", {}, dependant_on=second.id)  # one id, as the original tool wrote it
    queue.enqueue([first, second, third])
    order = []
    for _ in range(3):
        claim = queue.claim("w", LEASE)
        assert queue.claim("other", LEASE) is None, "the next link must wait for this one"
        order.append(claim.task_id)
        assert queue.complete(claim, None)
    assert order == [first.id, second.id, third.id]


def test_fan_in_waits_for_all_parents(queue_factory):
    queue = queue_factory()
    parents = [NewTask("t", {"i": i}) for i in range(3)]
    child = NewTask("join", {}, dependant_on=[p.id for p in parents])
    queue.enqueue(parents + [child])
    claims = [queue.claim("w", LEASE, task_types=["t"]) for _ in parents]
    for claim in claims[:2]:
        assert queue.complete(claim, "x")
    assert queue.claim("w", LEASE) is None
    assert queue.complete(claims[2], "x")
    assert queue.claim("w", LEASE).task_id == child.id


def test_failure_cascades_transitively_naming_the_row_waited_for(queue_factory):
    queue = queue_factory()
    root = NewTask("t", {})
    mid = NewTask("t", {}, dependant_on=[root.id])
    leaf = NewTask("t", {}, dependant_on=[mid.id])
    other = NewTask("t", {})
    queue.enqueue([root, mid, leaf, other])
    claim = queue.claim("w", LEASE)
    assert claim.task_id == root.id
    assert queue.fail(claim, "CUDA out of memory")
    assert queue.get(root.id).status == Status.FAILED
    assert queue.get(mid.id).status == Status.FAILED
    assert queue.get(mid.id).error_message == f"dependency {root.id} failed: CUDA out of memory"
    assert queue.get(leaf.id).status == Status.FAILED
    assert queue.get(leaf.id).error_message.startswith(f"dependency {mid.id} failed: {root.id} failed")
    assert queue.get(other.id).status == Status.QUEUED


def test_enqueue_on_a_failed_row_ends_at_once(queue_factory):
    queue = queue_factory()
    root = NewTask("t", {})
    queue.enqueue([root])
    queue.fail(queue.claim("w", LEASE), "bad input")
    late = NewTask("t", {}, dependant_on=[root.id])
    queue.enqueue([late])
    row = queue.get(late.id)
    assert row.status == Status.FAILED and root.id in row.error_message and "bad input" in row.error_message


def test_enqueue_rejects_unknown_dependency_and_writes_nothing(queue_factory):
    queue = queue_factory()
    good = NewTask("t", {})
    bad = NewTask("t", {}, dependant_on=["no-such-task"])
    with pytest.raises(InvalidTask, match="no-such-task"):
        queue.enqueue([good, bad])
    assert queue.get(good.id) is None and queue.get(bad.id) is None
    later_in_batch = NewTask("t", {})
    early = NewTask("t", {}, dependant_on=[later_in_batch.id])
    with pytest.raises(InvalidTask):
        queue.enqueue([early, later_in_batch])
    assert queue.get(later_in_batch.id) is None


def test_enqueue_refuses_an_id_twice_in_the_batch_or_already_there_and_writes_nothing(queue_factory):
    queue = queue_factory()
    batch = [NewTask("t", {}, id=f"b{k}") for k in range(300)]
    twice = batch[:150] + [NewTask("t", {}, id="b40")] + batch[150:]         # b40 again, half way through
    with pytest.raises(InvalidTask, match="^a task with id b40 already exists$"):
        queue.enqueue(twice)
    assert queue.get("b0") is None and queue.get("b299") is None
    head = NewTask("t", {}, id="head")
    queue.enqueue([head])
    with pytest.raises(InvalidTask, match="^a task with id head already exists$"):
        queue.enqueue(batch[:200] + [NewTask("t", {}, id="head")] + batch[200:])
    assert queue.get("b0") is None
    # a batch whose rows depend on rows before them goes in whole, in order, ids as given
    chained = [NewTask("t", {}, id="c0")] + [NewTask("t", {}, id=f"c{k}", dependant_on=[f"c{k - 1}"])
                                            for k in range(1, 50)]
    assert queue.enqueue(chained) == [task.id for task in chained]
    assert queue.get("c49").dependant_on == ["c48"] and queue.claim("w", LEASE).task_id in ("head", "c0")


def test_cancel_cascades_to_children_and_dependants(queue_factory):
    queue = queue_factory()
    orch = NewTask("orchestrator", {}, run_id="run-c")
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    seg1 = NewTask("seg", {}, id="run-c-seg-1")
    seg2 = NewTask("seg", {}, id="run-c-seg-2", dependant_on=[seg1.id])
    stitch = NewTask("stitch", {}, id="run-c-stitch", dependant_on=[seg2.id])
    assert queue.fan_out(claim, [seg1, seg2, stitch], stitch.id)
    outsider = NewTask("later", {}, dependant_on=[orch.id])
    queue.enqueue([outsider])
    running = queue.claim("w2", LEASE)
    assert running.task_id == seg1.id
    changed = queue.cancel(orch.id, "user pressed stop")
    assert changed == 5
    for task_id in (orch.id, seg1.id, seg2.id, stitch.id, outsider.id):
        assert queue.get(task_id).status == Status.CANCELLED, task_id
    assert queue.get(orch.id).error_message == "user pressed stop"
    assert queue.get(seg1.id).error_message == f"parent task {orch.id} cancelled: user pressed stop"
    # the running worker finds out through its next fenced write
    assert not queue.heartbeat(running, LEASE)
    assert not queue.set_progress(running, 0.5, "step 5/10")
    assert not queue.complete(running, "late")
    assert queue.get(seg1.id).output_location is None
    assert queue.cancel(orch.id) == 0


def test_cancel_queued_row_only_touches_its_dependants(queue_factory):
    queue = queue_factory()
    a, b = NewTask("t", {}), NewTask("t", {})
    c = NewTask("t", {}, dependant_on=[a.id])
    queue.enqueue([a, b, c])
    assert queue.cancel(a.id) == 2
    assert queue.get(c.id).error_message == f"dependency {a.id} cancelled: cancelled by user"
    assert queue.get(b.id).status == Status.QUEUED


def test_lease_expiry_requeues_then_fails_after_max_attempts(queue_factory):
    queue = queue_factory()
    task = NewTask("t", {}, max_attempts=2)
    queue.enqueue([task])
    first = queue.claim("lost-1", 0.05)
    assert queue.sweep_expired() == 0
    time.sleep(0.1)
    assert queue.sweep_expired() == 1
    row = queue.get(task.id)
    assert (row.status, row.attempts, row.worker_id) == (Status.QUEUED, 1, None)
    second = queue.claim("lost-2", 0.05)
    assert second.attempt == 2
    time.sleep(0.1)
    assert queue.sweep_expired() == 1
    row = queue.get(task.id)
    assert row.status == Status.FAILED
    assert row.error_message == "worker lost-2 was lost (lease expired) after 2 attempts"
    assert not queue.complete(first, "zombie") and not queue.complete(second, "zombie")


def test_heartbeat_keeps_the_lease(queue_factory):
    queue = queue_factory()
    queue.enqueue([NewTask("t", {})])
    claim = queue.claim("w", 0.3)
    for _ in range(3):
        time.sleep(0.15)
        assert queue.heartbeat(claim, 0.3)
        assert queue.sweep_expired() == 0
    assert queue.set_progress(claim, 0.25, "step 1/4")
    row = queue.get(claim.task_id)
    assert (row.progress, row.progress_message) == (0.25, "step 1/4")


def test_fencing_a_stale_worker_changes_nothing(queue_factory):
    queue = queue_factory()
    task = NewTask("t", {})
    queue.enqueue([task])
    stale = queue.claim("paused-worker", 0.05)
    time.sleep(0.1)
    assert queue.sweep_expired() == 1
    fresh = queue.claim("live-worker", LEASE)
    assert (fresh.task_id, fresh.attempt) == (task.id, 2)
    # the paused worker wakes up: every write is refused
    assert not queue.heartbeat(stale, LEASE)
    assert not queue.set_progress(stale, 0.9, "stale")
    assert not queue.complete(stale, "stale-output")
    assert not queue.fail(stale, "stale failure")
    assert not queue.release(stale)
    assert not queue.fan_out(stale, [NewTask("x", {}, id="stale-child")], "stale-child")
    row = queue.get(task.id)
    assert (row.status, row.worker_id, row.attempts, row.progress) == (Status.IN_PROGRESS, "live-worker", 2, None)
    assert queue.get("stale-child") is None
    assert queue.complete(fresh, "fresh-output")
    assert queue.get(task.id).output_location == "fresh-output"


def test_fencing_is_what_keeps_the_live_output(queue_factory):
    """The same late write without the ownership condition would have replaced the live output."""
    queue = queue_factory()
    task = NewTask("t", {})
    queue.enqueue([task])
    stale = queue.claim("paused-worker", 0.05)
    time.sleep(0.1)
    queue.sweep_expired()
    fresh = queue.claim("live-worker", LEASE)
    assert not queue.complete(stale, "stale-output")
    queue.target.execute(
        "UPDATE tasks SET status = 'Complete', output_location = ? WHERE id = ? AND status = 'In Progress'",
        "UPDATE tasks SET status = 'Complete', output_location = %s WHERE id = %s AND status = 'In Progress'",
        ("stale-output", task.id))
    assert queue.get(task.id).output_location == "stale-output"  # unfenced: the stale worker won
    assert not queue.complete(fresh, "fresh-output")


def test_retry_backoff_then_final_failure(queue_factory):
    queue = queue_factory()
    task = NewTask("t", {}, max_attempts=2)
    queue.enqueue([task])
    claim = queue.claim("w", LEASE)
    assert queue.fail(claim, "download timed out", retry=True, retry_delay_seconds=0.4)
    row = queue.get(task.id)
    assert row.status == Status.QUEUED and row.scheduled_at is not None and row.worker_id is None
    assert queue.claim("w", LEASE) is None, "a row in back-off must not be claimed"
    started = time.monotonic()
    queue.wait_for_change(5.0)  # wakes when the back-off ends
    assert time.monotonic() - started < 2.0
    time.sleep(max(0.0, 0.45 - (time.monotonic() - started)))
    again = queue.claim("w", LEASE)
    assert again is not None and again.attempt == 2
    assert queue.fail(again, "download timed out", retry=True, retry_delay_seconds=0.1)
    row = queue.get(task.id)
    assert row.status == Status.FAILED and row.error_message == "download timed out"


def test_release_does_not_count_the_attempt(queue_factory):
    queue = queue_factory()
    task = NewTask("t", {}, max_attempts=1)
    queue.enqueue([task])
    for _ in range(3):
        claim = queue.claim("w", LEASE)
        assert claim.attempt == 1
        assert queue.release(claim)
        row = queue.get(task.id)
        assert (row.status, row.attempts, row.worker_id, row.lease_expires_at) == (Status.QUEUED, 0, None, None)
    assert not queue.release(claim)


def test_fan_out_is_idempotent_and_completion_reaches_the_orchestrator(queue_factory):
    queue = queue_factory()
    outer = NewTask("outer", {}, run_id="run-f", project_id="proj")
    waiting_on_outer = NewTask("after", {}, dependant_on=[outer.id])
    queue.enqueue([outer, waiting_on_outer])
    outer_claim = queue.claim("w", LEASE, task_types=["outer"])
    inner = NewTask("inner", {}, id="run-f-inner")
    assert queue.fan_out(outer_claim, [inner], inner.id)
    assert queue.fan_out(outer_claim, [inner], inner.id) is False  # no longer holding it
    row = queue.get(outer.id)
    assert (row.status, row.awaiting_task_id, row.lease_expires_at) == (Status.IN_PROGRESS, inner.id, None)
    child = queue.get(inner.id)
    assert (child.parent_task_id, child.run_id, child.project_id) == (outer.id, "run-f", "proj")
    # a nested orchestrator: inner fans out two segments and awaits the last one
    inner_claim = queue.claim("w", LEASE)
    seg_a = NewTask("seg", {}, id="run-f-seg-a")
    seg_b = NewTask("seg", {}, id="run-f-seg-b", dependant_on=[seg_a.id])
    assert queue.fan_out(inner_claim, [seg_a, seg_b], seg_b.id)
    with pytest.raises(InvalidTask, match="a task with id run-f-seg-a already exists"):
        queue.enqueue([seg_a, seg_b])  # enqueue refuses the ids fan-out inserted; nothing changes
    assert len(queue.list_run("run-f")) == 4
    time.sleep(0.05)
    assert queue.sweep_expired() == 0, "awaiting orchestrators hold no lease"
    run_one(queue, output="/a.mp4")
    assert queue.get(outer.id).status == Status.IN_PROGRESS
    run_one(queue, output="/final.mp4")
    for task_id in (inner.id, outer.id):
        row = queue.get(task_id)
        assert (row.status, row.output_location) == (Status.COMPLETE, "/final.mp4")
    assert queue.claim("w", LEASE).task_id == waiting_on_outer.id


def test_fan_out_failure_reaches_the_orchestrator(queue_factory):
    queue = queue_factory()
    orch = NewTask("orchestrator", {})
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    seg = NewTask("seg", {}, id=f"{orch.id}-seg")
    stitch = NewTask("stitch", {}, id=f"{orch.id}-stitch", dependant_on=[seg.id])
    assert queue.fan_out(claim, [seg, stitch], stitch.id)
    seg_claim = queue.claim("w", LEASE)
    assert queue.fail(seg_claim, "decoder exploded")
    row = queue.get(orch.id)
    assert row.status == Status.FAILED
    assert row.error_message == f"awaited task {stitch.id} failed: {seg.id} failed: decoder exploded"


def test_fan_out_rerun_when_the_awaited_row_already_ended(queue_factory):
    queue = queue_factory()
    done = NewTask("seg", {}, id="already-done")
    orch = NewTask("orchestrator", {})
    queue.enqueue([done])
    run_one(queue, output="/done.mp4")
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    assert queue.fan_out(claim, [NewTask("seg", {}, id="already-done")], "already-done")
    row = queue.get(orch.id)
    assert (row.status, row.output_location) == (Status.COMPLETE, "/done.mp4")


def test_fan_out_with_unknown_awaited_row_writes_nothing(queue_factory):
    queue = queue_factory()
    orch = NewTask("orchestrator", {})
    queue.enqueue([orch])
    claim = queue.claim("w", LEASE)
    with pytest.raises(InvalidTask):
        queue.fan_out(claim, [NewTask("seg", {}, id="child-x")], "not-there")
    assert queue.get("child-x") is None
    assert queue.get(orch.id).awaiting_task_id is None
    assert queue.complete(claim, "still mine")


def test_rows_inserted_directly_by_a_client_are_claimable(queue_factory):
    queue = queue_factory()
    target = queue.target
    parent = target.insert_raw("generate", '{"prompt": "a boat"}')
    child = target.insert_raw("upscale", '{"factor": 2}', parent)            # one id
    both = target.insert_raw("stitch", "{}", json.dumps([parent, child]))    # a JSON list
    row = queue.get(child)
    assert (row.status, row.dependant_on, row.attempts, row.priority) == (Status.QUEUED, [parent], 0, 0)
    assert queue.get(both).dependant_on == [parent, child]
    assert len(parent) == 36 and parent.count("-") == 4
    first = queue.claim("w", LEASE)
    assert (first.task_id, first.task.params) == (parent, {"prompt": "a boat"})
    assert queue.claim("w", LEASE) is None
    queue.complete(first, "/boat.mp4")
    assert run_one(queue) == child
    assert run_one(queue) == both


def test_direct_insert_with_unknown_dependency_is_refused(queue_factory):
    queue = queue_factory()
    with pytest.raises(Exception, match="does not exist"):
        queue.target.insert_raw("t", "{}", "missing-id")
    assert queue.claim("w", LEASE) is None


def test_row_whose_params_are_not_an_object_fails_with_a_clear_message(queue_factory):
    queue = queue_factory()
    bad = queue.target.insert_raw("generate", "[1, 2]")
    dependant = queue.target.insert_raw("upscale", "{}", bad)
    good = queue.target.insert_raw("generate", '{"ok": true}')
    claim = queue.claim("w", LEASE)
    assert claim.task_id == good
    row = queue.get(bad)
    assert row.status == Status.FAILED and "params must be a JSON object" in row.error_message
    assert queue.get(dependant).status == Status.FAILED


def test_wait_for_change_wakes_on_enqueue_and_times_out_when_idle(queue_factory):
    import threading

    queue = queue_factory()
    other = queue_factory.open(queue.target)
    assert queue.claim("w", LEASE) is None
    started = time.monotonic()
    queue.wait_for_change(0.3)
    assert 0.25 <= time.monotonic() - started < 2.0
    timer = threading.Timer(0.2, lambda: other.enqueue([NewTask("t", {})]))
    timer.start()
    started = time.monotonic()
    queue.wait_for_change(10.0)
    waited = time.monotonic() - started
    timer.join()
    assert 0.15 <= waited < 1.0
    assert queue.claim("w", LEASE) is not None


def test_migrate_is_idempotent(queue_factory):
    queue = queue_factory()
    queue.enqueue([NewTask("t", {})])
    queue.migrate()
    again = queue_factory.open(queue.target)
    again.migrate()
    assert again.claim("w", LEASE) is not None


def test_open_queue_leaves_the_schema_alone_and_migrate_says_what_it_did(queue_factory):
    target = queue_factory.target(empty=True)
    queue = open_queue(target.settings())
    queue_factory.opened.append(queue)  # closed with the others
    tables = ("SELECT count(*) FROM sqlite_master WHERE name = 'tasks'",
              "SELECT count(*) FROM pg_tables WHERE tablename = 'tasks'")
    assert target.execute(*tables) == [(0,)]

    created = queue.migrate()
    assert target.execute(*tables) == [(1,)]
    versions = [v for (v,) in target.execute(*["SELECT version FROM queue_migrations ORDER BY version"] * 2)]
    assert (created.before, created.after, created.applied) == (None, versions[-1], tuple(versions))
    assert str(created) == f"queue schema created (version {versions[-1]})"

    current = queue.migrate()
    assert (current.before, current.after, current.applied) == (versions[-1], versions[-1], ())
    assert str(current) == f"queue schema is current (version {versions[-1]})"

    # a database one migration behind: migrate applies just that one (each migration may run again)
    target.execute("DELETE FROM queue_migrations WHERE version = ?",
                   "DELETE FROM queue_migrations WHERE version = %s", (versions[-1],))
    upgraded = queue.migrate()
    assert upgraded.applied == (versions[-1],) and upgraded.after == versions[-1]
    assert upgraded.before == (versions[-2] if len(versions) > 1 else None)  # SQLite has one migration
    assert str(upgraded) == (f"queue schema upgraded from version {versions[-2]} to {versions[-1]}"
                             if len(versions) > 1 else f"queue schema created (version {versions[-1]})")
    queue.enqueue([NewTask("t", {})])
    assert queue.claim("w", LEASE) is not None


def test_pending_count_sees_queued_and_leased_rows_only(queue_factory):
    queue = queue_factory()
    orch, other = NewTask("orchestrator", {}), NewTask("render", {})
    queue.enqueue([orch, other])
    assert queue.pending_count() == 2 and queue.pending_count(["render"]) == 1
    claim = queue.claim("w", LEASE, task_types=["orchestrator"])
    child = NewTask("render", {}, id=f"{orch.id}-child")
    queue.fan_out(claim, [child], child.id)
    assert queue.pending_count() == 2  # the child and `other`; the awaiting orchestrator holds no lease
    run_one(queue)
    run_one(queue)
    assert queue.pending_count() == 0 and queue.get(orch.id).status == Status.COMPLETE
