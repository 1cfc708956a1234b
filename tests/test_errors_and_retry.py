"""The error family (source/errors.py): every kind told by its type, never by its message; the one retry
policy (source/retry.py): attempts, deadline and jitter bounds, on a fake clock."""
import pytest

from source import errors
from source.errors import Kind, kind_of
from source.retry import TASK_RETRY, Backoff, retrying


# ---- the error family -------------------------------------------------------------------------------

def _project_errors():
    """Every error class the project defines (imported so each module's classes are registered)."""
    import source.cli.common  # noqa: F401
    import source.engines.choice  # noqa: F401
    import source.engines.loras  # noqa: F401
    import source.engines.models  # noqa: F401
    import source.engines.wan2gp.errors  # noqa: F401
    import source.engines.wan2gp.helper  # noqa: F401
    import source.engines.weights  # noqa: F401
    import source.media.images  # noqa: F401
    import source.media.stitch  # noqa: F401
    import source.media.video_io  # noqa: F401
    import source.queue.postgrest_connector  # noqa: F401
    import source.queue.reconnecting  # noqa: F401
    import source.selfcheck  # noqa: F401
    import source.storage.downloads  # noqa: F401
    import source.storage.supabase_storage  # noqa: F401
    import source.workflows.registry  # noqa: F401
    import source.workflows.travel.plan  # noqa: F401

    found, todo = set(), [BaseException]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("source."):
                found.add(sub)
    return found


@pytest.mark.parametrize("error, kind", [
    (errors.TransientError("x"), Kind.TRANSIENT),
    (errors.DatabaseUnavailable("gone", maybe_applied=False), Kind.TRANSIENT),
    (errors.UploadUnanswered("no answer"), Kind.TRANSIENT),
    (ConnectionResetError("peer"), Kind.TRANSIENT),
    (TimeoutError("slow"), Kind.TRANSIENT),
    (errors.UserError("bad"), Kind.BAD_INPUT),
    (errors.InvalidParams("frames: too many"), Kind.BAD_INPUT),
    (errors.InvalidTask("unknown dependency"), Kind.BAD_INPUT),
    (errors.UnstorableName("cannot store"), Kind.BAD_INPUT),
    (errors.MachineFault("disk full"), Kind.MACHINE_FAULT),
    (errors.BrokenEnvironment("no cv2"), Kind.MACHINE_FAULT),
    (errors.SchemaTooNew("newer"), Kind.MACHINE_FAULT),
    (errors.UploadRefused("needs SUPABASE_URL"), Kind.MACHINE_FAULT),
    (ModuleNotFoundError("No module named 'cv2'", name="cv2"), Kind.MACHINE_FAULT),
    (errors.TaskCancelled("cancelled"), Kind.CANCELLED),
    (KeyError("x"), Kind.BUG),
])
def test_each_error_says_its_kind_by_its_type(error, kind):
    assert kind_of(error) is kind
    assert errors.is_transient(error) == (kind is Kind.TRANSIENT)
    assert errors.is_user_error(error) == (kind is Kind.BAD_INPUT)
    assert errors.is_machine_fault(error) == (kind is Kind.MACHINE_FAULT)


def test_a_message_never_decides_the_kind():
    """'out of memory' in a message is just text; torch's OutOfMemoryError type is what counts."""
    assert kind_of(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")) is Kind.BUG
    assert kind_of(errors.UserError("out of memory")) is Kind.BAD_INPUT
    torch = pytest.importorskip("torch")
    assert kind_of(torch.OutOfMemoryError("CUDA out of memory")) is Kind.TRANSIENT
    assert kind_of(torch.cuda.OutOfMemoryError("anything")) is Kind.TRANSIENT


def test_every_error_the_project_defines_belongs_to_the_family():
    outside = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in _project_errors()
                     if not issubclass(cls, errors.ProjectError) and cls.__name__ != "_StopWaiting")
    assert outside == []
    # the old import names still work, and name the same classes
    from source.media.stitch import StitchError
    from source.queue.model import DatabaseUnavailable, InvalidTask, QueueError, SchemaTooNew
    from source.storage.supabase_storage import UploadError
    assert (StitchError, UploadError, QueueError, InvalidTask, SchemaTooNew, DatabaseUnavailable) == (
        errors.StitchError, errors.UploadError, errors.QueueError, errors.InvalidTask, errors.SchemaTooNew,
        errors.DatabaseUnavailable)


# ---- the retry policy -------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.waits = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.waits.append(seconds)
        self.now += seconds


def _failing(times, error=errors.TransientError):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= times:
            raise error(f"failure {len(calls)}")
        return "done"
    return call, calls


def test_the_policy_tries_at_most_its_attempts_and_raises_the_last_error():
    clock = FakeClock()
    call, calls = _failing(10)
    with pytest.raises(errors.TransientError, match="failure 3"):
        retrying(call, Backoff(attempts=3, first_delay=1, max_delay=30), should_retry=errors.is_transient,
                 sleep=clock.sleep, clock=clock, announce=False)
    assert len(calls) == 3
    assert clock.waits == [1, 2]          # doubling, no jitter


def test_a_success_on_a_later_try_returns_its_value():
    clock = FakeClock()
    call, calls = _failing(2)
    assert retrying(call, Backoff(attempts=5, first_delay=0.5, max_delay=1), should_retry=errors.is_transient,
                    sleep=clock.sleep, clock=clock, announce=False) == "done"
    assert clock.waits == [0.5, 1] and len(calls) == 3


def test_an_error_not_worth_a_retry_is_raised_at_once():
    clock = FakeClock()
    call, calls = _failing(10, error=errors.InvalidParams)
    with pytest.raises(errors.InvalidParams):
        retrying(call, Backoff(attempts=5), should_retry=errors.is_transient, sleep=clock.sleep, clock=clock)
    assert len(calls) == 1 and clock.waits == []


def test_no_try_starts_after_the_deadline():
    """Unlimited attempts, waits 1, 2, 4, 8 (capped at 8): with a 20 s deadline the tries start at 0, 1, 3,
    7 and 15; the next would start at 23."""
    clock = FakeClock()
    call, calls = _failing(100)
    with pytest.raises(errors.TransientError, match="failure 5"):
        retrying(call, Backoff(attempts=None, first_delay=1, max_delay=8, deadline=20),
                 should_retry=errors.is_transient, sleep=clock.sleep, clock=clock, announce=False)
    assert clock.waits == [1, 2, 4, 8]
    assert clock.now <= 20


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.999])
def test_jitter_shortens_each_wait_by_at_most_its_fraction(fraction):
    policy = Backoff(first_delay=0.05, max_delay=1.0, jitter=0.5)
    for failed in range(1, 10):
        step = min(1.0, 0.05 * 2 ** (failed - 1))
        delay = policy.delay(failed, lambda: fraction)
        assert step * 0.5 <= delay <= step
        assert delay == pytest.approx(step * (1 - 0.5 * fraction))


def test_jittered_waits_stay_in_bounds_with_the_real_random_source():
    policy = Backoff(first_delay=2.0, max_delay=2.0, jitter=0.5)
    delays = [policy.delay(1) for _ in range(500)]
    assert all(1.0 <= d <= 2.0 for d in delays)
    assert max(delays) - min(delays) > 0.5   # spread, not one value


def test_the_policy_refuses_nonsense():
    with pytest.raises(ValueError):
        Backoff(attempts=0)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


def test_a_failed_rows_next_attempt_backs_off_5_10_20_seconds_up_to_5_minutes():
    assert [TASK_RETRY.delay(n) for n in (1, 2, 3, 4, 8, 20)] == [5, 10, 20, 40, 300, 300]
