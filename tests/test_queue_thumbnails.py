"""params.thumbnail_url (the output's poster) on every backend: recorded by the worker just before it
completes a row, taken by the orchestrators awaiting that row, nested ones too."""
from __future__ import annotations

from source.queue.model import NewTask, Status
from tests.helpers.queue import queue_factory  # noqa: F401  (the fixture)

LEASE = 30.0


def test_thumbnail_is_recorded_and_reaches_awaiting_orchestrators(queue_factory):  # noqa: F811
    queue = queue_factory()
    outer = NewTask("outer", {"keep": 1}, run_id="run-t")
    queue.enqueue([outer])
    outer_claim = queue.claim("w", LEASE)
    inner = NewTask("inner", {}, id="run-t-inner")
    assert queue.fan_out(outer_claim, [inner], inner.id)
    inner_claim = queue.claim("w", LEASE)
    seg = NewTask("seg", {"segment_index": 0}, id="run-t-seg")
    assert queue.fan_out(inner_claim, [seg], seg.id)
    seg_claim = queue.claim("w", LEASE)
    assert queue.record_thumbnail(outer_claim, "/nope.jpg") is False     # not the owner of a running row
    assert queue.record_thumbnail(seg_claim, "/out/final_poster.jpg")
    assert queue.complete(seg_claim, "/out/final.mp4")
    for task_id in (seg.id, inner.id, outer.id):
        row = queue.get(task_id)
        assert row.status == Status.COMPLETE and row.params["thumbnail_url"] == "/out/final_poster.jpg", task_id
    assert queue.get(seg.id).params["segment_index"] == 0 and queue.get(outer.id).params["keep"] == 1
