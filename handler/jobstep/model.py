"""Plain data passed between the layers: a job snapshot, a failed query, an error in a result.

The records are NamedTuples: immutable and typed like frozen dataclasses, at a tenth of the cost of
defining them, which a cold start pays (see bench/invocation.py).
"""

from collections.abc import Mapping
from typing import Any, NamedTuple, Optional, Union

_MAX_TEXT = 500


def _text(value: Any) -> Optional[str]:
    return value[:_MAX_TEXT] if isinstance(value, str) else None


class Job(NamedTuple):
    """The job as the job API reported it (classic ELB field names; the status verbatim)."""

    status: str
    job_id: Optional[str] = None
    job_type: Optional[str] = None
    begin_time: Optional[str] = None
    end_time: Optional[str] = None
    error_code: Optional[str] = None
    fail_reason: Optional[str] = None
    entities: Optional[dict[str, Any]] = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Optional["Job"]:
        """The known fields of a job object; None when it has no status string."""
        status = fields.get("status")
        if not isinstance(status, str) or not status.strip():
            return None
        entities = fields.get("entities")
        return cls(
            status=status[:64],
            job_id=_text(fields.get("job_id")),
            job_type=_text(fields.get("job_type")),
            begin_time=_text(fields.get("begin_time")),
            end_time=_text(fields.get("end_time")),
            error_code=_text(fields.get("error_code")),
            fail_reason=_text(fields.get("fail_reason")),
            entities=entities if isinstance(entities, dict) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Failure(NamedTuple):
    """A query that gave no job: an HTTP error status, no answer in time, or an unusable answer."""

    kind: str  # "http", "timeout", "connection" or "bad_response"
    message: str
    http_status: Optional[int] = None
    code: Optional[str] = None
    retry_after: Optional[float] = None


Reply = Union[Job, Failure]


class Error(NamedTuple):
    type: str
    message: str
    retryable: bool
    http_status: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        shown = self._asdict()
        if self.http_status is None:
            del shown["http_status"]
        return shown
