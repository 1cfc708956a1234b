"""ThreadConnections: the connection bookkeeping the SQLite and psycopg queues share."""
from __future__ import annotations

import itertools
import os
import threading

from source.queue.connections import ThreadConnections


class FakeConnection:
    numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_one_connection_per_thread_and_close_all_closes_every_one():
    connections = ThreadConnections(FakeConnection)
    mine = connections.get()
    assert connections.get() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(connections.get()))
    thread.start()
    thread.join()
    listener = connections.dedicated("listen", FakeConnection)
    assert connections.dedicated("listen", FakeConnection) is listener
    assert len({mine.number, theirs[0].number, listener.number}) == 3

    connections.close_all()
    assert mine.closed and theirs[0].closed and listener.closed
    again = connections.get()
    assert again is not mine and not again.closed
    assert connections.dedicated("listen", FakeConnection) is not listener


def test_a_discarded_or_closed_connection_is_replaced():
    connections = ThreadConnections(FakeConnection)
    first = connections.get()
    connections.discard()
    assert first.closed
    second = connections.get()
    assert second is not first
    second.close()  # e.g. the server ended the session
    assert connections.get() not in (first, second)
    listener = connections.dedicated("listen", FakeConnection)
    connections.discard_dedicated("listen")
    assert listener.closed and connections.dedicated("listen", FakeConnection) is not listener


def test_a_forked_child_opens_its_own_and_leaves_the_parents_open():
    connections = ThreadConnections(FakeConnection)
    parent = connections.get()
    parent_listener = connections.dedicated("listen", FakeConnection)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        ok = (connections.get() is not parent
              and connections.dedicated("listen", FakeConnection) is not parent_listener)
        connections.close_all()
        os._exit(0 if ok and not parent.closed and not parent_listener.closed else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert connections.get() is parent and not parent.closed
