"""Input no backend can store is refused the same way on every backend, before anything is written."""
from __future__ import annotations

import pytest

from source.queue.model import InvalidTask, NewTask

REFUSED = [
    ({"params": {"prompt": "a\u0000b"}}, "NUL character"),
    ({"params": {"prompt": "\ud800"}}, "lone surrogate"),
    ({"params": {"scale": float("nan")}}, "scale must be a finite number, got nan"),
    ({"params": {}, "priority": 3_000_000_000}, "priority must be between -2147483648 and 2147483647"),
    ({"params": {}, "priority": 99999999999999999999}, "priority must be between"),
    ({"params": {}, "max_attempts": 99_999_999_999}, "max_attempts must be an integer from 1 to 2147483647"),
]


@pytest.mark.parametrize("fields, message", REFUSED, ids=[m for _, m in REFUSED])
def test_unstorable_rows_are_refused_in_one_line_on_every_backend(queue_factory, fields, message):
    queue = queue_factory()
    with pytest.raises(InvalidTask, match=message) as refused:
        queue.enqueue([NewTask("noop", **fields)])
    assert "\n" not in str(refused.value)
    assert queue.pending_count() == 0


def test_a_literal_backslash_u0000_is_ordinary_text(queue_factory):
    queue = queue_factory()
    [task_id] = queue.enqueue([NewTask("noop", {"prompt": "\\u0000 is six characters"})])
    assert queue.get(task_id).params == {"prompt": "\\u0000 is six characters"}
