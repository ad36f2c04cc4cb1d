"""The exceptions of the jobs area, under one base (`JobError`), and how Shopify's failures end a job."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from shopapp.shopify.errors import AdminApiError, ReauthorizationRequiredError


class JobError(Exception):
    """Base of every jobs-area error."""


class PermanentJobError(JobError):
    """Raised by a handler to fail the job at once, without retries; the message becomes the job's error."""


class JobCancelledError(JobError):
    """Raised by `JobContext.check_cancelled()` when the merchant asked to cancel the job."""


class JobTimeoutError(JobError):
    """The attempt ran past its time limit (`@job_kind(timeout=)`, JOB_TIMEOUT_SECONDS or
    WEBHOOK_JOB_TIMEOUT_SECONDS); raised inside the handler, and retried like any failure."""

    def __init__(self, seconds: float):
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


class JobLostError(JobError):
    """This worker no longer holds the job's claim (it stalled and another worker took the job over)."""


class UnknownJobKindError(JobError):
    """No handler is registered for a job kind."""


class JobNotFoundError(JobError):
    """No job with that id belongs to that shop."""


class JobNotRetryableError(JobError):
    """Only a failed job can be retried."""


class JobNotCancellableError(JobError):
    """A finished job cannot be cancelled."""


@contextmanager
def admin_api_failures() -> Iterator[None]:
    """Inside a job that calls the Admin API: a refusal that retrying cannot fix (the shop needs the merchant
    to re-authorize, a 4xx) fails the job at once with Shopify's message (PermanentJobError); a passing
    fault whose retries ran out (429, 5xx, THROTTLED) propagates, so the job is retried with back-off."""
    try:
        yield
    except ReauthorizationRequiredError as exc:
        raise PermanentJobError(str(exc)) from None
    except AdminApiError as exc:
        if exc.retryable:
            raise
        raise PermanentJobError(str(exc)) from None
