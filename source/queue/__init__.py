"""The task queue: one interface (base.py), three backends, the SQL that defines the semantics."""
from .model import Claim, InvalidTask, NewTask, QueueError, Status, Task  # noqa: F401
