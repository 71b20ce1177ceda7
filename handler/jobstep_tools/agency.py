"""`jobstep deploy --create-agency`: the agency that lets the function read the jobs, created on request through
huaweicloudsdkiam's IamClient and granted, in the region's project only, the least system policy of each job API
asked for.

Functional core: pure functions build each request (a deploy.Call) from plain data and read the answers as dicts.
Imperative shell: `ensure` sends them through deploy.Sender and says what it did, one line a step. Idempotent: an
agency of that name is kept (and said so), and a policy it already has in the project is not granted again.

What FunctionGraph gives the handler comes from the agency: the temporary keys of the context
(getSecurityAccessKey, getSecuritySecretKey, getSecurityToken: the FunctionGraph developer guide's context object),
and those keys can do what the agency's policies allow in the project, nothing more.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Optional, TextIO, Union

from jobstep.credentials import Credentials

from .deploy import (
    INSTALL,
    Call,
    Hints,
    Operation,
    Sdk,
    Sender,
    Stop,
    find_in_pages,
    one_line,
    request_lines,
    sdk_request,
    target,
)

PROG = "jobstep deploy"

# The account name of FunctionGraph's cloud service, the delegated party of a cloud service agency for it:
# huaweicloud/terraform-provider-huaweicloud docs/resources/fgs_function.md (its examples create the agency of a
# function with delegated_service_name = "op_svc_cff", which the provider sends as CreateAgency's trust_domain_name);
# the same name heads FunctionGraph in the table of service account names for IAM agencies delegated to a cloud
# service. CreateAgencyOption (huaweicloudsdkiam v3): "trust_domain_name: 被委托方账号名".
FUNCTIONGRAPH_DOMAIN = "op_svc_cff"
DESCRIPTION = "Lets the jobstep function read the asynchronous jobs of its job APIs (made by jobstep deploy)"
DURATION = "FOREVER"  # CreateAgencyOption.duration: FOREVER, ONEDAY or a number of days

# The least IAM system permission that covers each job API's job query, granted in the region's project only.
# From IAM's table of system roles and policies (usermanual-permissions iam_01_0001, "系统角色与策略": each service's
# read-only system policy, "…的只读权限"). The job-query pages of these API references name no fine-grained action,
# except CCE's (cce:job:get, "Obtaining job progress", CCE API reference, permissions and supported actions), which
# only a custom policy could grant alone; a read-only system policy is the least documented grant that covers it.
# TaurusDB (gaussdb) uses the GaussDB policies (TaurusDB user guide taurusdb_03_0021 grants "GaussDB FullAccess").
# EIP's job API is on the vpc host and its page names no permission: VPC ReadOnlyAccess, as for the VPC it is part
# of (EIP's user guide also shows an "EIP ReadOnlyAccess"). CPH has roles only: "CPH User", its read-only role.
POLICIES: dict[str, str] = {
    "elb": "ELB ReadOnlyAccess", "elbv3": "ELB ReadOnlyAccess", "ecs": "ECS ReadOnlyAccess",
    "evs": "EVS ReadOnlyAccess", "bms": "BMS ReadOnlyAccess", "ims": "IMS ReadOnlyAccess",
    "eip": "VPC ReadOnlyAccess", "vpc": "VPC ReadOnlyAccess", "cce": "CCE ReadOnlyAccess", "rds": "RDS ReadOnlyAccess",
    "dds": "DDS ReadOnlyAccess", "gaussdb": "GaussDB ReadOnlyAccess", "opengauss": "GaussDB ReadOnlyAccess",
    "nosql": "GeminiDB ReadOnlyAccess", "dcs": "DCS ReadOnlyAccess", "dws": "DWS ReadOnlyAccess",
    "sfsturbo": "SFS Turbo ReadOnlyAccess", "ddm": "DDM ReadOnlyAccess", "cph": "CPH User",
    "cbr": "CBR ReadOnlyAccess",
}

# The SDK logs connection errors on this logger (huaweicloudsdkcore/client.py `_init_logger`).
_SDK_LOGGER = "HuaweiCloud-SDK-IamClient"
AGENCIES_PAGE = 500  # ListAgencies: per_page 1-500 (huaweicloudsdkiam ListAgenciesRequest)

# IAM v3 as huaweicloudsdkiam's IamClient calls it (v3/iam_client.py, each method's `_<method>_http_info`).
SHOW_PROJECT = Operation("keystone_show_project", "KeystoneShowProjectRequest", None, "GET",
                         "/v3/projects/{project_id}")
LIST_AGENCIES = Operation("list_agencies", "ListAgenciesRequest", None, "GET", "/v3.0/OS-AGENCY/agencies",
                          ("domain_id", "trust_domain_id", "name", "page", "per_page"))
CREATE_AGENCY = Operation("create_agency", "CreateAgencyRequest", "CreateAgencyRequestBody", "POST",
                          "/v3.0/OS-AGENCY/agencies")
LIST_ROLES = Operation("keystone_list_permissions", "KeystoneListPermissionsRequest", None, "GET", "/v3/roles",
                       ("name", "domain_id", "page", "per_page", "permission_type", "display_name", "type",
                        "catalog"))
LIST_GRANTED = Operation("list_project_permissions_for_agency", "ListProjectPermissionsForAgencyRequest", None, "GET",
                         "/v3.0/OS-AGENCY/projects/{project_id}/agencies/{agency_id}/roles")
GRANT = Operation("associate_agency_with_project_permission", "AssociateAgencyWithProjectPermissionRequest", None,
                  "PUT", "/v3.0/OS-AGENCY/projects/{project_id}/agencies/{agency_id}/roles/{role_id}")
OPERATIONS = (SHOW_PROJECT, LIST_AGENCIES, CREATE_AGENCY, LIST_ROLES, LIST_GRANTED, GRANT)


class Plan(NamedTuple):
    """What to make: the agency's name, in which project (and region), with which system permissions."""

    name: str
    project_id: str
    region: str
    policies: tuple[str, ...]  # display names, each once, in the order of the services asked


def policies_for(services: Iterable[str]) -> Union[tuple[str, ...], Stop]:
    """The system permissions of the services, each once; a Stop for a service with none documented."""
    unknown = [service for service in services if service not in POLICIES]
    if unknown:
        return Stop(f"{PROG}: --services: no documented IAM policy covers the job API of {', '.join(unknown)}"
                    f" (a JOBSTEP_SERVICES entry): create the agency yourself and pass only --agency")
    return tuple(dict.fromkeys(POLICIES[service] for service in services))


# ---- functional core -----------------------------------------------------------------------------------------------

def _project(plan: Plan) -> tuple[str, str]:
    return ("project_id", plan.project_id)


def show_project(plan: Plan) -> Call:
    return Call(SHOW_PROJECT, (_project(plan),), None, f"reading the project {plan.project_id}")


def list_agencies(plan: Plan, domain_id: str, page: int) -> Call:
    # The reference does not say whether `name` matches exactly: the answer is filtered here (pick_agency).
    parameters = (("domain_id", domain_id), ("name", plan.name), ("page", page), ("per_page", AGENCIES_PAGE))
    return Call(LIST_AGENCIES, parameters, None, f"looking for the agency {plan.name}")


def create_agency(plan: Plan, domain_id: str) -> Call:
    body = {"agency": {"name": plan.name, "domain_id": domain_id, "trust_domain_name": FUNCTIONGRAPH_DOMAIN,
                       "description": DESCRIPTION, "duration": DURATION}}
    return Call(CREATE_AGENCY, (), body, f"creating the agency {plan.name}")


def find_role(policy: str) -> Call:
    # display_name filters, and matches more than the name given (IAM: "如传参为Administrator，则返回满足条件的所有
    # 管理员权限"): the answer is filtered here (pick_role).
    return Call(LIST_ROLES, (("display_name", policy),), None, f"looking for the system policy {policy}")


def list_granted(plan: Plan, agency_id: str) -> Call:
    return Call(LIST_GRANTED, (_project(plan), ("agency_id", agency_id)), None,
                f"reading what the agency {plan.name} may do in the project")


def grant(plan: Plan, agency_id: str, role_id: str, policy: str) -> Call:
    return Call(GRANT, (_project(plan), ("agency_id", agency_id), ("role_id", role_id)), None,
                f"granting {policy} to the agency {plan.name}")


def iam_target(call: Call, plan: Plan) -> str:
    """The path and query as the SDK sends them (deploy.target)."""
    return target(call, plan.project_id)


def project_problem(answer: Mapping[str, Any], plan: Plan) -> Optional[str]:
    """Why the project does not fit: not the region's (a project is named after its region, or
    <region>_<subproject>), or disabled."""
    project = answer.get("project") or {}
    name = str(project.get("name") or "")
    if name != plan.region and not name.startswith(plan.region + "_"):
        return (f"the project {plan.project_id} is {name or 'unnamed'}'s, not the region {plan.region}'s: pass the"
                f" --project-id of {plan.region}")
    if project.get("enabled") is False:
        return f"the project {plan.project_id} ({name}) is disabled"
    return None


def pick_agency(answer: Mapping[str, Any], name: str) -> Optional[dict[str, Any]]:
    """The agency named exactly `name` in a ListAgencies answer."""
    return next((agency for agency in answer.get("agencies") or [] if agency.get("name") == name), None)


def next_page(answer: Mapping[str, Any], page: int) -> Optional[int]:
    """The next page of ListAgencies, or None after a page that is not full."""
    return page + 1 if len(answer.get("agencies") or []) >= AGENCIES_PAGE else None


def pick_role(answer: Mapping[str, Any], policy: str) -> Optional[str]:
    """The id of the system permission named exactly `policy` (its display_name) in a KeystoneListPermissions
    answer; a custom policy (one with a domain_id) of the same name is not it."""
    return next((role["id"] for role in answer.get("roles") or []
                 if role.get("display_name") == policy and not role.get("domain_id") and role.get("id")), None)


def granted_ids(answer: Mapping[str, Any]) -> set[str]:
    return {role["id"] for role in answer.get("roles") or [] if role.get("id")}


def plan_lines(plan: Plan, endpoint: str) -> list[str]:
    """What --dry-run prints for the agency: every request of both paths (it exists, or not)."""
    domain, agency_id = "{domain_id}", "{agency_id}"

    def request(call: Call, indent: str = "  ") -> list[str]:
        return request_lines(call, iam_target(call, plan), call.body, indent)

    return [
        f"the agency {plan.name}, delegated to FunctionGraph ({FUNCTIONGRAPH_DOMAIN}), at {endpoint} (the SDK first"
        " asks GET /v3/auth/domains for the account's {domain_id}, unless HUAWEICLOUD_SDK_DOMAIN_ID gives it):",
        *request(show_project(plan)),
        *request(list_agencies(plan, domain, 1)),
        "  if there is no agency of that name:",
        *request(create_agency(plan, domain), "    "),
        f"then, to grant {', '.join(plan.policies)} in the project {plan.project_id} ({plan.region}):",
        *[line for policy in plan.policies for line in request(find_role(policy))],
        *request(list_granted(plan, agency_id)),
        "  for each one the agency does not have yet (its {role_id} from the answers above):",
        *request(grant(plan, agency_id, "{role_id}", "{policy}"), "    "),
    ]


# Security Administrator: IAM's role for managing agencies (iam_01_0001). IAM is global: no project to check.
IAM = Hints(PROG, "IAM", "creating an agency needs IAM permissions (e.g. the Security Administrator role): ask an"
            " administrator, or have one create the agency and pass only --agency", "--region or --iam-endpoint",
            " (it keeps what exists)", checks="")


# ---- imperative shell ----------------------------------------------------------------------------------------------


def import_sdk() -> Union[Sdk, Stop]:
    try:
        from importlib import import_module

        iam = import_module("huaweicloudsdkiam.v3")
        models = import_module("huaweicloudsdkiam.v3.model")
        region = import_module("huaweicloudsdkiam.v3.region.iam_region")
        from huaweicloudsdkcore.auth.credentials import GlobalCredentials
        from huaweicloudsdkcore.exceptions import exceptions
        from huaweicloudsdkcore.http.http_config import HttpConfig
        from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
    except ImportError as exc:
        return Stop(f"{PROG}: --create-agency needs huaweicloudsdkiam ({exc}): install it with {INSTALL}")
    return Sdk(models, iam.IamClient, region.IamRegion, GlobalCredentials, HttpConfig, exceptions,
                sanitize_for_serialization)


def endpoint_of(sdk: Sdk, region: str, given: Optional[str]) -> Union[str, Stop]:
    if given is not None:
        return given
    try:
        endpoint: str = sdk.region.value_of(region).endpoints[0]
        return endpoint
    except KeyError:
        return Stop(f"{PROG}: huaweicloudsdkiam knows no IAM endpoint for the region {region}: pass"
                    f" --iam-endpoint https://iam.{region}.myhuaweicloud.com (or https://iam.myhuaweicloud.com)")


def api(sdk: Sdk, credentials: Credentials, region: str, endpoint: str,
        domain_id: Optional[str]) -> Union[Sender, Stop]:
    """IamClient with GlobalCredentials. Without a domain (account) id, the SDK asks this endpoint for it while it
    builds the client (huaweicloudsdkcore client.py: a client built with a region runs
    GlobalCredentials.process_auth_params, which sends GET /v3/auth/domains to the credentials' IAM endpoint), and
    then signs every request with it (X-Domain-Id)."""
    from huaweicloudsdkcore.region.region import Region

    keys = sdk.credentials(credentials.ak, credentials.sk, domain_id).with_iam_endpoint(endpoint)
    if credentials.security_token:
        keys = keys.with_security_token(credentials.security_token)
    try:
        return Sender(sdk, keys, endpoint, IAM, _SDK_LOGGER, (10, 60), Region(region, endpoint))
    except sdk.exceptions.SdkException as exc:
        return Stop(f"{PROG}: finding the account (domain) ID at {endpoint} failed ({one_line(exc)}): check the keys,"
                    " or set HUAWEICLOUD_SDK_DOMAIN_ID to the account ID")


def load_requests(sdk: Sdk, plan: Plan) -> None:
    """Each request of the plan built as the SDK's model, as a real run builds it (a dry run checks them so)."""
    for call in (show_project(plan), list_agencies(plan, "0" * 32, 1), create_agency(plan, "0" * 32),
                 find_role(plan.policies[0]), list_granted(plan, "0" * 32), grant(plan, "0" * 32, "0" * 32, "x")):
        sdk_request(sdk, call)


def ensure(sender: Sender, plan: Plan, out: TextIO) -> Optional[Stop]:
    """The agency in place with its policies in the project; a line per step on `out`."""
    answer = sender.send(show_project(plan))
    if isinstance(answer, Stop):
        return answer
    problem = project_problem(answer, plan)
    domain_id = str((answer.get("project") or {}).get("domain_id") or "")
    if problem or not domain_id:
        return Stop(f"{PROG}: --project-id: {problem or 'IAM answered no account (domain_id) for the project'}")
    found: list[dict[str, Any]] = []

    def pick(page_answer: Mapping[str, Any]) -> Optional[str]:
        agency = pick_agency(page_answer, plan.name)
        if agency is not None:
            found.append(agency)
        return None if agency is None else str(agency.get("id"))

    agency_id = find_in_pages(sender, lambda page: list_agencies(plan, domain_id, page), pick, next_page, 1)
    if isinstance(agency_id, Stop):
        return agency_id
    if agency_id is None:
        created = sender.send(create_agency(plan, domain_id))
        if isinstance(created, Stop):
            return created
        agency_id = (created.get("agency") or {}).get("id")
        if not agency_id:
            return Stop(f"{PROG}: creating the agency {plan.name}: the answer has no agency id: run the command"
                        " again, it finds the agency by its name")
        print(f"agency {plan.name}: created, id {agency_id}, delegated to FunctionGraph ({FUNCTIONGRAPH_DOMAIN})",
              file=out)
    else:
        delegated = found[0].get("trust_domain_name")
        if delegated and delegated != FUNCTIONGRAPH_DOMAIN:
            return Stop(f"{PROG}: the agency {plan.name} exists and is delegated to {delegated}, not to FunctionGraph"
                        f" ({FUNCTIONGRAPH_DOMAIN}): the function could not use it; choose another --agency name")
        print(f"agency {plan.name}: exists, id {agency_id}, kept", file=out)
    return _grant_all(sender, plan, str(agency_id), out)


def _grant_all(sender: Sender, plan: Plan, agency_id: str, out: TextIO) -> Optional[Stop]:
    roles: dict[str, str] = {}
    for policy in plan.policies:
        answer = sender.send(find_role(policy))
        if isinstance(answer, Stop):
            return answer
        role_id = pick_role(answer, policy)
        if role_id is None:
            return Stop(f"{PROG}: IAM has no system policy named {policy!r} in this region: grant the agency"
                        f" {plan.name} a read-only policy of the job's service in the console")
        roles[policy] = role_id
    answer = sender.send(list_granted(plan, agency_id))
    if isinstance(answer, Stop):
        return answer
    held = granted_ids(answer)
    where = f"in project {plan.project_id} ({plan.region})"
    new = [policy for policy in plan.policies if roles[policy] not in held]
    for policy in new:
        done = sender.send(grant(plan, agency_id, roles[policy], policy))
        if isinstance(done, Stop):
            return done
    kept = [policy for policy in plan.policies if policy not in new]
    if new:
        print(f"agency {plan.name}: granted {', '.join(new)} {where}", file=out)
    if kept:
        print(f"agency {plan.name}: already has {', '.join(kept)} {where}", file=out)
    return None

