"""A stand-in for IAM's API over real HTTP on 127.0.0.1: the calls `jobstep deploy --create-agency` makes through
huaweicloudsdkiam's IamClient, for one account (domain) with its region projects, kept in memory.

As tests/functiongraph.py does for FunctionGraph, it does what Huawei Cloud documents, and where the documents are
silent it takes the reading that is hardest on the caller:
- Every request must carry a valid SDK-HMAC-SHA256 signature (jobstep_tools.sigcheck), the token of temporary keys,
  and, when it names one, the account's own X-Domain-Id (GlobalCredentials sends it); else 401.
- Queries and bodies are read strictly into huaweicloudsdkiam's v3 models (an unknown key, a wrong type or a missing
  required field is 400), and every answer is checked against the response model before it is sent.
- GET /v3/auth/domains (KeystoneListAuthDomains) answers the account: the SDK asks it itself when GlobalCredentials
  has no domain id (huaweicloudsdkcore auth/credentials.py, GlobalCredentials.process_auth_params).
- CreateAgency (POST /v3.0/OS-AGENCY/agencies, 201): name 1-64 characters, the caller's own domain_id, a
  trust_domain_name IAM knows (the cloud services' op_svc_* accounts), a description of at most 255 characters
  without @#$%^&*<>\\ (Terraform's huaweicloud_identity_agency says which), duration FOREVER, ONEDAY or a number of
  days; a name that exists is 409.
- ListAgencies and KeystoneListPermissions filter by name (name, display_name) without saying whether exactly: here
  any name that contains the filter matches ("如传参为Administrator，则返回满足条件的所有管理员权限"), so the caller
  must pick the exact name itself.
- AssociateAgencyWithProjectPermission (PUT .../projects/{p}/agencies/{a}/roles/{r}) answers 204, also for a role
  granted before; a role that is not project-level (type AX) is 400, an unknown agency or role 404.
"""

import json
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional
from urllib.parse import urlencode

import huaweicloudsdkiam.v3.model as models
from functiongraph import Schema, json_api, received
from jobstep_tools import sigcheck
from jobstep_tools.simulator import Loopback

DOMAIN_ID = "0c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f"  # the account: one, so that the SDK's cache of it is right for all
DOMAIN_NAME = "jobstep-account"
# Cloud services' accounts an agency may be delegated to (a few of IAM's op_svc_* names).
SERVICE_DOMAINS = frozenset({"op_svc_cff", "op_svc_ecs", "op_svc_evs", "op_svc_cce", "op_svc_obs", "op_svc_rds"})
# IAM's system permissions the deploy command may ask for, and some it must not take for them.
SYSTEM_ROLES = ("ELB ReadOnlyAccess", "ECS ReadOnlyAccess", "EVS ReadOnlyAccess", "BMS ReadOnlyAccess",
                "IMS ReadOnlyAccess", "VPC ReadOnlyAccess", "CCE ReadOnlyAccess", "RDS ReadOnlyAccess",
                "DDS ReadOnlyAccess", "GaussDB ReadOnlyAccess", "GeminiDB ReadOnlyAccess", "DCS ReadOnlyAccess",
                "DWS ReadOnlyAccess", "SFS Turbo ReadOnlyAccess", "DDM ReadOnlyAccess", "CPH User",
                "CBR ReadOnlyAccess", "SFS ReadOnlyAccess", "ECS FullAccess", "Tenant Guest")
_FORBIDDEN = re.compile(r"[@#$%^&*<>\\]")


class Invalid(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
# IAM's answers carry nulls where a field has no value (AgencyListResult.expire_time: "“null”表示不过期").
SCHEMA = Schema(models, lambda message: Invalid(400, f"Invalid request. {message}"), nulls=True)


class Seen(NamedTuple):
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    verdict: Optional[str]

    @property
    def target(self) -> str:
        return self.path + ("?" + urlencode(self.query) if self.query else "")


_ROUTES = (
    ("domains", "GET", re.compile(r"/v3/auth/domains"), "KeystoneListAuthDomainsRequest", None),
    ("project", "GET", re.compile(r"/v3/projects/(?P<project_id>[^/]+)"), "KeystoneShowProjectRequest", None),
    ("agencies", "GET", re.compile(r"/v3\.0/OS-AGENCY/agencies"), "ListAgenciesRequest", None),
    ("create_agency", "POST", re.compile(r"/v3\.0/OS-AGENCY/agencies"), "CreateAgencyRequest",
     "CreateAgencyRequestBody"),
    ("roles", "GET", re.compile(r"/v3/roles"), "KeystoneListPermissionsRequest", None),
    ("granted", "GET", re.compile(r"/v3\.0/OS-AGENCY/projects/(?P<project_id>[^/]+)/agencies/(?P<agency_id>[^/]+)"
                                  r"/roles"), "ListProjectPermissionsForAgencyRequest", None),
    ("grant", "PUT", re.compile(r"/v3\.0/OS-AGENCY/projects/(?P<project_id>[^/]+)/agencies/(?P<agency_id>[^/]+)"
                                r"/roles/(?P<role_id>[^/]+)"), "AssociateAgencyWithProjectPermissionRequest", None),
)
_RESPONSES = {"domains": "KeystoneListAuthDomainsResponse", "project": "KeystoneShowProjectResponse",
              "agencies": "ListAgenciesResponse", "create_agency": "CreateAgencyResponse",
              "roles": "KeystoneListPermissionsResponse", "granted": "ListProjectPermissionsForAgencyResponse"}


def _role(display_name: str, number: int) -> dict[str, Any]:
    service = display_name.split()[0].lower()
    return {"id": uuid.uuid5(uuid.NAMESPACE_URL, display_name).hex, "name": f"system_all_{number}",
            "display_name": display_name, "type": "XA", "catalog": display_name.split()[0], "flag": "fine_grained",
            "description": f"{display_name} (stand-in)",
            "policy": {"Version": "1.1", "Statement": [{"Action": [f"{service}:*:get*", f"{service}:*:list*"],
                                                        "Effect": "Allow"}]}}


class IamStandIn(Loopback):
    """IAM for the account DOMAIN_ID, whose projects are `projects` (project id -> its name, the region's name).
    `keys` maps each access key to (secret key, token or None)."""

    def __init__(self, projects: Mapping[str, str], keys: dict[str, tuple[str, Optional[str]]]):
        self.projects, self.keys = dict(projects), dict(keys)
        self.roles = [_role(name, number) for number, name in enumerate(SYSTEM_ROLES, start=1)]
        self.agencies: dict[str, dict[str, Any]] = {}  # by id, as ListAgencies answers them
        self.granted: dict[tuple[str, str], list[str]] = {}  # (project id, agency id) -> role ids, in grant order
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        super().__init__(json_api(self.answer, "X-IAM-Trace-Id"))

    def role_id(self, display_name: str) -> str:
        return next(role["id"] for role in self.roles if role["display_name"] == display_name)

    def add_agency(self, name: str, trust_domain_name: str = "op_svc_cff") -> dict[str, Any]:
        """An agency made elsewhere (the console, another tool)."""
        agency = {"id": uuid.uuid4().hex, "name": name, "domain_id": DOMAIN_ID, "trust_domain_id": uuid.uuid4().hex,
                  "trust_domain_name": trust_domain_name, "description": "", "duration": "FOREVER",
                  "expire_time": None, "create_time": "2026-01-01T00:00:00.000000"}
        self.agencies[agency["id"]] = agency
        return agency

    def policies_of(self, name: str, project_id: str) -> list[str]:
        """The display names of what the agency `name` may do in the project, in the order granted."""
        agency = next(agency for agency in self.agencies.values() if agency["name"] == name)
        names = {role["id"]: role["display_name"] for role in self.roles}
        return [names[role_id] for role_id in self.granted.get((project_id, agency["id"]), [])]

    # ---- the API ---------------------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        path, query, lowered, verdict = received(method, target, headers, body, self.keys)
        with self._lock:
            self.seen.append(Seen(method, path, query, verdict))
        try:
            if verdict == sigcheck.INVALID_TOKEN:
                raise Invalid(401, "The request you have made requires authentication: invalid token.")
            if verdict:
                raise Invalid(401, "The request you have made requires authentication.")
            if lowered.get("x-domain-id", DOMAIN_ID) != DOMAIN_ID:
                raise Invalid(401, "The request you have made requires authentication: X-Domain-Id.")
            return self._route(method, path, query, lowered, body)
        except Invalid as problem:
            return problem.status, {"error": {"code": problem.status, "message": problem.message,
                                              "title": _TITLES.get(problem.status, "Error")}}

    def _route(self, method: str, path: str, query: tuple, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        for route in _ROUTES:
            match = route[2].fullmatch(path)
            if match and route[1] == method:
                break
        else:
            raise Invalid(404, "The API does not exist.")
        name, _, _, request_model, body_model = route
        cls = getattr(models, request_model)
        accepted = set(cls.attribute_map.values()) - set(match.groupdict()) - {"body"}
        unknown = sorted({key for key, _ in query} - accepted)
        if unknown:
            raise Invalid(400, f"Invalid query parameter(s) {', '.join(unknown)}.")
        data = None
        if body_model is not None:
            if not headers.get("content-type", "").startswith("application/json"):
                raise Invalid(400, "The body must be application/json.")
            try:
                data = json.loads(body)
            except ValueError:
                raise Invalid(400, "The body is not JSON.") from None
            SCHEMA.load(body_model, data)
        with self._lock:
            status, answer = getattr(self, f"_{name}")(match.groupdict(), dict(query), data)
        if name in _RESPONSES:
            SCHEMA.load(_RESPONSES[name], answer)  # the answer is the SDK's response model, exactly
        return status, answer

    def _links(self, path: str) -> dict[str, str]:
        # The SDK's Links marks self, previous and next required; one page has no neighbours: empty links.
        return {"self": self.base_url + path, "previous": "", "next": ""}

    def _domains(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        link = {"self": f"{self.base_url}/v3/auth/domains"}
        return 200, {"domains": [{"enabled": True, "id": DOMAIN_ID, "name": DOMAIN_NAME, "description": "",
                                  "links": {"self": f"{self.base_url}/v3/domains/{DOMAIN_ID}"}}], "links": link}

    def _project(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        project_id = path["project_id"]
        if project_id not in self.projects:
            raise Invalid(404, f"Could not find project: {project_id}.")
        return 200, {"project": {"id": project_id, "name": self.projects[project_id], "domain_id": DOMAIN_ID,
                                 "parent_id": DOMAIN_ID, "is_domain": False, "enabled": True, "description": "",
                                 "links": self._links(f"/v3/projects/{project_id}")}}

    def _agencies(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        if query.get("domain_id") != DOMAIN_ID:
            raise Invalid(403, "You are not authorized to list the agencies of another account.")
        matching = [agency for agency in self.agencies.values() if query.get("name", "") in agency["name"]]
        if "page" in query or "per_page" in query:
            try:
                page, per_page = int(query["page"]), int(query["per_page"])
            except (KeyError, ValueError):
                raise Invalid(400, "page and per_page go together, as whole numbers.") from None
            if page < 1 or not 1 <= per_page <= 500:
                raise Invalid(400, "page starts at 1; per_page is 1-500.")
            matching = matching[(page - 1) * per_page:page * per_page]
        return 200, {"agencies": matching}

    def _create_agency(self, path: dict, query: dict, data: dict) -> tuple[int, Any]:
        option = data["agency"]
        name, description = option["name"], option.get("description", "")
        if not 0 < len(name) <= 64:
            raise Invalid(400, "The agency name must be 1-64 characters.")
        if option["domain_id"] != DOMAIN_ID:
            raise Invalid(403, "An agency belongs to the caller's own account (domain_id).")
        trusted = option.get("trust_domain_name")
        if trusted is None and option.get("trust_domain_id") is None:
            raise Invalid(400, "trust_domain_id or trust_domain_name is required.")
        if trusted is not None and trusted not in SERVICE_DOMAINS:
            raise Invalid(404, f"Could not find domain: {trusted}.")
        if len(description) > 255 or _FORBIDDEN.search(description):
            raise Invalid(400, "The description is at most 255 characters, without @#$%^&*<>\\.")
        duration = option.get("duration", "FOREVER")
        if not (duration in ("FOREVER", "ONEDAY") or (isinstance(duration, str) and duration.isdigit())):
            raise Invalid(400, "duration must be FOREVER, ONEDAY or a number of days.")
        if any(agency["name"] == name for agency in self.agencies.values()):
            raise Invalid(409, f"The agency {name} already exists.")
        agency = self.add_agency(name, trusted or "")
        agency.update(description=description, duration=duration)
        created = {key: agency[key] for key in ("id", "name", "domain_id", "trust_domain_id", "description",
                                                "duration", "expire_time", "create_time")}
        return 201, {"agency": created}

    def _roles(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        wanted = query.get("display_name", "")
        roles = [role for role in self.roles if wanted in role["display_name"]]
        return 200, {"roles": roles, "links": self._links("/v3/roles"), "total_number": len(roles)}

    def _agency(self, path: dict) -> dict[str, Any]:
        if path["project_id"] not in self.projects:
            raise Invalid(404, f"Could not find project: {path['project_id']}.")
        if path["agency_id"] not in self.agencies:
            raise Invalid(404, f"Could not find agency: {path['agency_id']}.")
        return self.agencies[path["agency_id"]]

    def _granted(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        self._agency(path)
        by_id = {role["id"]: role for role in self.roles}
        return 200, {"roles": [by_id[role_id] for role_id in self.granted.get((path["project_id"],
                                                                                path["agency_id"]), [])]}

    def _grant(self, path: dict, query: dict, data: None) -> tuple[int, Any]:
        self._agency(path)
        role = next((role for role in self.roles if role["id"] == path["role_id"]), None)
        if role is None:
            raise Invalid(404, f"Could not find role: {path['role_id']}.")
        if role["type"] not in ("XA", "AA"):
            raise Invalid(400, f"The role {role['display_name']} is not a project-level permission.")
        held = self.granted.setdefault((path["project_id"], path["agency_id"]), [])
        if role["id"] not in held:
            held.append(role["id"])
        return 204, None
