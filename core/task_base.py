"""The base class of every Celery task: retries and the last failure, on either transport.

A task runs in one of two places:

- **a local Celery worker** (the embedded broker): Celery's own retries apply
  (`autoretry_for` with `retry_backoff`, up to the task's `max_retries`), exactly as
  Celery documents them;
- **the worker Lambda function**, which SQS hands the message to (`lambda_handler.run_sqs`,
  inside `sqs_delivery(receive_count)`): a retry must not loop in-process (the function
  would spin through every retry at once, no backoff, inside one 15-minute invocation).
  Instead `retry()` raises `Redeliver`, the message is reported failed, and SQS delivers
  it again after the queue's visibility timeout: that timeout is the backoff. The task
  sees `self.request.retries == ApproximateReceiveCount - 1`, so "the third try" means
  the same thing on both transports.

Each task may name what to do when it has failed for the last time: its `final_failure`
hook (`@shared_task(..., final_failure=hook)`, next to the task), called as
`hook(*args, error=..., attempts=..., **kwargs)` with the task's own arguments. It marks
the record the task was working on as failed with a message (a dataset that is never
left `analyzing`, a job never left `queued`). It runs

- in a local worker, from `on_failure`: Celery calls that once, when it has given up
  (retries exhausted, or an error it does not retry);
- in the Lambda, from `run_sqs`, on the last receive SQS allows
  (`settings.AUTOML_TASK_MAX_RECEIVES`, the queue's `maxReceiveCount`). The message is
  still reported failed, so SQS moves it to the dead-letter queue for the operator.

A hook must be safe to call twice and after success elsewhere (conditional writes on a
live status), because SQS may deliver a message once more than it counts.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)

FinalFailure = Callable[..., Any]


@dataclass(frozen=True)
class Delivery:
    """The SQS delivery a task runs in: how many times SQS has handed this message out."""

    receive_count: int
    max_receives: int

    @property
    def is_last(self) -> bool:
        return self.receive_count >= self.max_receives


_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar(
    "automl_sqs_delivery", default=None
)


class Redeliver(Exception):  # noqa: N818 - it names what happens, not an error kind
    """A task asked to be retried while SQS delivers it: fail the message, SQS redelivers."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__(f"retry after the visibility timeout: {error!r}")
        self.error = error


def max_receives() -> int:
    """How many times SQS delivers a task message before dead-lettering it."""
    from django.conf import settings

    return int(settings.AUTOML_TASK_MAX_RECEIVES)


def current_delivery() -> Delivery | None:
    """The SQS delivery the running task came from, or None (a local worker, a caller)."""
    return _delivery.get()


@contextlib.contextmanager
def sqs_delivery(receive_count: int) -> Iterator[Delivery]:
    """Run tasks as delivered by SQS for the `receive_count`-th time (1 = first)."""
    delivery = Delivery(receive_count=max(1, int(receive_count)), max_receives=max_receives())
    token = _delivery.set(delivery)
    try:
        yield delivery
    finally:
        _delivery.reset(token)


def underlying_error(error: BaseException) -> BaseException:
    """The error a task failed with (the cause of a `Redeliver`)."""
    if isinstance(error, Redeliver) and error.error is not None:
        return error.error
    return error


def run_final_failure(
    task: Task,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    error: BaseException,
    attempts: int,
) -> bool:
    """Call the task's final-failure hook; False when it has none or the hook failed.

    The hook's own errors are logged, never raised: the caller still reports the
    original failure (the message goes to the dead-letter queue either way).
    """
    task = getattr(task, "_get_current_object", lambda: task)()  # a shared_task proxy
    hook = inspect.getattr_static(type(task), "final_failure", None)
    if isinstance(hook, staticmethod):
        hook = hook.__func__
    if hook is None:
        return False
    try:
        hook(*args, error=underlying_error(error), attempts=attempts, **kwargs)
    except Exception:
        logger.exception("The final-failure hook of %s failed", task.name)
        return False
    return True


class AutomlTask(Task):
    """Celery's Task, with SQS-aware retries and a final-failure hook (see the module)."""

    # The task's give-up hook, set per task: `@shared_task(..., final_failure=hook)`.
    final_failure: FinalFailure | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # `@shared_task(final_failure=hook)` puts a plain function on the task's class:
        # keep it a function (`task.final_failure is hook`), not a method of the task.
        super().__init_subclass__(**kwargs)
        hook = cls.__dict__.get("final_failure")
        if inspect.isfunction(hook):
            cls.final_failure = staticmethod(hook)

    def retry(self, *args: Any, exc: BaseException | None = None, **kwargs: Any) -> Any:
        """Celery's retry in a worker; under SQS, fail this delivery so SQS redelivers it."""
        if current_delivery() is not None:
            raise Redeliver(exc) from exc
        return super().retry(*args, exc=exc, **kwargs)

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        einfo: Any,
    ) -> None:
        """Celery gave up on this task: run its hook (under SQS, `run_sqs` decides instead)."""
        if current_delivery() is not None:
            return
        run_final_failure(self, args, kwargs, error=exc, attempts=self.request.retries + 1)


def failure_reason(error: BaseException, default: str) -> str:
    """What a final-failure hook tells the user: the application's own message, or
    `default` for anything else (whose details are in the log, not on the page)."""
    from core.exceptions import ApplicationError

    return error.message if isinstance(error, ApplicationError) else default


# A task whose work reads or writes storage: storage errors are retried (with backoff by a
# local worker, by SQS redelivery in the Lambda), then its `final_failure` hook gives up.
STORAGE_RETRIES = 3


def storage_task_options(final_failure: Any) -> dict[str, Any]:
    """The `shared_task` options of such a task (analysis, batch scoring)."""
    from core.exceptions import ServiceUnavailable

    return {
        "bind": True,
        "acks_late": True,
        "autoretry_for": (ServiceUnavailable,),
        "retry_backoff": 5,
        "max_retries": STORAGE_RETRIES,
        "final_failure": final_failure,
    }
