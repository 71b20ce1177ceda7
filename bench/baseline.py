"""The invocation benchmark's baseline: the job query as a user would hand-write it with the SDK core.

huaweicloudsdkcore's BasicCredentials signs the request (it adds X-Project-Id and X-Security-Token, then
calls the SDK-HMAC-SHA256 signer) and requests sends it and parses the JSON. It reuses one session, as
jobstep does, so that the warm comparison is against the cheapest correct signed GET, not a new
connection per request. No timeouts from a budget, no error handling, no log: the least a query needs.
"""

from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

SESSION = requests.Session()


def get_job(base_url: str, project_id: str, job_id: str, ak: str, sk: str, token: Optional[str]) -> Any:
    credentials = BasicCredentials(ak, sk, project_id).with_security_token(token)
    parts = urlsplit(base_url)
    request = SdkRequest(method="GET", schema=parts.scheme, host=parts.netloc,
                         resource_path=f"/v1.0/{project_id}/jobs/{job_id}", query_params=[], header_params={})
    credentials.sign_request(request)
    response = SESSION.get(base_url + request.uri, headers=request.header_params, timeout=10)
    response.raise_for_status()
    return response.json()
