"""The registry of job APIs: the only way a service name reaches a host and a path.

Each entry knows where its job query lives and how its answer maps onto the one normalised job
shape (classic ELB's field names).
"""

from collections.abc import Mapping
from typing import Any, NamedTuple, Optional
from urllib.parse import quote

DEFAULT_SERVICE = "elb"


class JobApi(NamedTuple):
    host: str  # the endpoint is https://{host}.{region}.myhuaweicloud.com
    path: str  # with {project_id} and {job_id}
    wrapped: bool = False  # the answer is {"job": {...}}, with error_msg for fail_reason (ELB v3)

    def url(self, base: str, project_id: str, job_id: str) -> str:
        return base + self.path.format(project_id=quote(project_id, safe=""), job_id=quote(job_id, safe=""))

    def regional_endpoint(self, region: str) -> str:
        return f"https://{self.host}.{region}.myhuaweicloud.com"

    def job_fields(self, answer: Any) -> Optional[Mapping[str, Any]]:
        """The answer's job in classic field names; None when the answer does not hold one."""
        if not self.wrapped:
            return answer if isinstance(answer, dict) else None
        job = answer.get("job") if isinstance(answer, dict) else None
        if not isinstance(job, dict):
            return None
        entities = {key: job[key] for key in ("resource_id", "sub_jobs") if job.get(key) is not None}
        return {**job, "fail_reason": job.get("error_msg"), "entities": entities}


_V1 = "/v1/{project_id}/jobs/{job_id}"
SERVICES: dict[str, JobApi] = {
    "elb": JobApi("elb", "/v1.0/{project_id}/jobs/{job_id}"),
    "ecs": JobApi("ecs", _V1),
    "evs": JobApi("evs", _V1),
    "bms": JobApi("bms", _V1),
    "ims": JobApi("ims", _V1),
    "vpc": JobApi("vpc", _V1),
    "elbv3": JobApi("elb", "/v3/{project_id}/elb/jobs/{job_id}", wrapped=True),
}
