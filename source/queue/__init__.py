"""The task queue: the interface (base.py) in domain words, the SQL that defines the semantics (sql/),
the SQLite backend, and one Postgres backend reached through a psycopg or a PostgREST connector."""
from .model import Claim, InvalidTask, NewTask, QueueError, Status, Task  # noqa: F401
