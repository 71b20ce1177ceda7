"""`jobstep deploy --create-agency` against the IAM stand-in (tests/iam.py) and the FunctionGraph stand-in over real
HTTP on 127.0.0.1: every request signed by huaweicloudsdkiam's and huaweicloudsdkfunctiongraph's own clients and
checked by the stand-ins; nothing is mocked.

Each test says which mutation of the code it catches."""

import re

import huaweicloudsdkiam.v3 as iam_sdk
import pytest
from functiongraph import FunctionGraphStandIn
from helpers import AK, PROJECT, SK, TEMP_AK, TEMP_SK, TOKEN
from iam import IamStandIn
from jobstep.services import SERVICES
from jobstep_tools import agency
from test_deploy_command import AGENCY, REGION, REQUEST_LINE, make_zip, one_line, run_deploy

OTHER_PROJECT = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture(autouse=True)
def environ(long_term_keys):
    return long_term_keys


@pytest.fixture
def clouds():
    keys = {AK: (SK, None), TEMP_AK: (TEMP_SK, TOKEN)}
    with IamStandIn({PROJECT: REGION, OTHER_PROJECT: "cn-north-4"}, keys) as iam, \
            FunctionGraphStandIn(PROJECT, keys, REGION) as functiongraph:
        yield iam, functiongraph


@pytest.fixture
def code(tmp_path):
    return make_zip(tmp_path / "jobstep-fgs.zip", b"code" * 100)


def arguments(clouds, code, *more: str) -> list[str]:
    iam, functiongraph = clouds
    return ["--region", REGION, "--project-id", PROJECT, "--agency", AGENCY, "--zip", str(code), "--endpoint",
            functiongraph.base_url, "--create-agency", "--iam-endpoint", iam.base_url, *more]


def sent(iam: IamStandIn, since: int = 0) -> list[str]:
    """IAM requests after `since`, without the SDK's own look-up of the account (made once per process and key)."""
    return [f"{seen.method} {seen.target}" for seen in iam.seen[since:] if seen.path != "/v3/auth/domains"]


def test_the_operations_are_the_ones_the_sdk_calls():
    """Catches: a method, path or query name in the agency's operation table that is not IamClient's (the dry run
    would print a request the real run never sends)."""
    for operation in agency.OPERATIONS:
        cls = getattr(iam_sdk, operation.request_model)
        request = cls(**{name: "1" for name in cls.openapi_types if name != "body"})
        info = getattr(iam_sdk.IamClient, f"_{operation.client_method}_http_info")(request)
        assert (info["method"], info["resource_path"], info["request_type"]) == (
            operation.method, operation.path, operation.request_model)
        assert tuple(name for name, _ in info["query_params"]) == operation.query
        assert set(info["path_params"]) == set(re.findall(r"{(\w+)}", operation.path))
        assert cls.openapi_types.get("body") == operation.body_model


def test_every_job_api_of_the_registry_has_its_least_policy():
    """Catches: a job API added to services.json (or an alias) without the system policy that lets the agency read
    its jobs (--create-agency would then refuse it)."""
    assert set(SERVICES) <= set(agency.POLICIES)
    assert all(policy.endswith(("ReadOnlyAccess", "User")) for policy in agency.POLICIES.values())


def test_a_first_run_creates_the_agency_for_functiongraph_and_grants_the_least_policies_in_the_project(clouds, code):
    """Catches: an agency delegated to another account than FunctionGraph's (op_svc_cff), a policy granted to all
    projects or to another one, a FullAccess policy, a service left out, a policy granted twice for two services
    that share it, and a function whose agency (xrole) is not the one made."""
    iam, functiongraph = clouds

    status, out, err = run_deploy(*arguments(clouds, code, "--services", "ecs,rds,eip,vpc"))

    assert (status, err) == (0, "")
    (made,) = iam.agencies.values()
    assert (made["name"], made["trust_domain_name"], made["duration"]) == (AGENCY, "op_svc_cff", "FOREVER")
    assert iam.policies_of(AGENCY, PROJECT) == ["ECS ReadOnlyAccess", "RDS ReadOnlyAccess", "VPC ReadOnlyAccess"]
    assert iam.policies_of(AGENCY, OTHER_PROJECT) == []
    assert functiongraph.functions["jobstep"].settings["xrole"] == AGENCY
    assert out.splitlines()[:2] == [
        f"agency {AGENCY}: created, id {made['id']}, delegated to FunctionGraph (op_svc_cff)",
        f"agency {AGENCY}: granted ECS ReadOnlyAccess, RDS ReadOnlyAccess, VPC ReadOnlyAccess in project {PROJECT}"
        f" ({REGION})",
    ]
    assert out.splitlines()[2].startswith("function jobstep: created")


def test_a_second_run_keeps_the_agency_and_grants_only_what_it_lacks(clouds, code):
    """Catches: creating the agency again (IAM answers 409), granting again what it has, or not granting a policy
    for a service added since."""
    iam, _ = clouds
    assert run_deploy(*arguments(clouds, code, "--services", "ecs"))[0] == 0
    before = len(iam.seen)

    status, out, err = run_deploy(*arguments(clouds, code, "--services", "ecs,cce"))

    assert (status, err) == (0, "")
    (made,) = iam.agencies.values()
    assert iam.policies_of(AGENCY, PROJECT) == ["ECS ReadOnlyAccess", "CCE ReadOnlyAccess"]
    assert [line.split(" ")[0] for line in sent(iam, before)] == ["GET", "GET", "GET", "GET", "GET", "PUT"]
    assert out.splitlines()[:3] == [
        f"agency {AGENCY}: exists, id {made['id']}, kept",
        f"agency {AGENCY}: granted CCE ReadOnlyAccess in project {PROJECT} ({REGION})",
        f"agency {AGENCY}: already has ECS ReadOnlyAccess in project {PROJECT} ({REGION})",
    ]


def test_the_default_service_is_the_configured_one(clouds, code, environ):
    """Catches: --services defaulting to every job API (far more than the least privilege) or to elb whatever
    JOBSTEP_SERVICE says."""
    iam, _ = clouds
    environ.setenv("JOBSTEP_SERVICE", "dcs")

    assert run_deploy(*arguments(clouds, code))[0] == 0
    assert iam.policies_of(AGENCY, PROJECT) == ["DCS ReadOnlyAccess"]


def test_agencies_and_policies_whose_names_only_contain_ours_are_left_alone(clouds, code):
    """Catches: taking the first agency or policy listed instead of the one named exactly (the filters are not
    documented as exact, and the stand-in matches any name that contains them)."""
    iam, _ = clouds
    decoy = iam.add_agency(AGENCY + "-old")
    iam.roles.insert(0, {**iam.roles[0], "id": "d" * 32, "display_name": "Old SFS Turbo ReadOnlyAccess"})

    assert run_deploy(*arguments(clouds, code, "--services", "sfsturbo"))[0] == 0
    assert iam.policies_of(AGENCY, PROJECT) == ["SFS Turbo ReadOnlyAccess"]
    assert iam.granted.get((PROJECT, decoy["id"])) is None


def test_an_agency_of_that_name_delegated_elsewhere_stops_the_command(clouds, code):
    """Catches: granting FunctionGraph's reading rights to an agency another account or service uses (and a
    function whose agency FunctionGraph cannot assume)."""
    iam, functiongraph = clouds
    iam.add_agency(AGENCY, "op_svc_ecs")

    status, out, err = run_deploy(*arguments(clouds, code, "--services", "ecs"))

    assert status == 2 and "delegated to op_svc_ecs, not to FunctionGraph" in one_line(err)
    assert iam.granted == {} and functiongraph.functions == {}


def test_a_project_of_another_region_is_refused_before_anything_is_made(clouds, code):
    """Catches: granting the policies in a project where the function does not run (they would not apply)."""
    iam, _ = clouds

    status, _, err = run_deploy(*arguments(clouds, code, "--services", "ecs")[:3], OTHER_PROJECT,
                                *arguments(clouds, code, "--services", "ecs")[4:])

    assert status == 2 and "--project-id: the project" in one_line(err) and "not the region ap-southeast-1's" in err
    assert iam.agencies == {}


def test_an_iam_refusal_is_one_line_that_says_who_may_create_agencies(clouds, code):
    """Catches: an SDK exception escaping as a traceback, or the deploy going on without the agency it was asked
    for."""
    iam, functiongraph = clouds
    iam.keys[AK] = ("another secret key", None)  # the signature no longer checks out at IAM only

    status, out, err = run_deploy(*arguments(clouds, code, "--services", "ecs"))

    assert (status, out) == (2, "") and "HTTP 401" in one_line(err) and "HUAWEICLOUD_SDK_SK" in err
    assert functiongraph.functions == {}


def test_a_dry_run_prints_the_agency_requests_a_real_run_sends_and_sends_none(clouds, code, environ):
    """Catches: the printed plan drifting from what is sent (a path, a query parameter, a step), and a dry run that
    asks IAM anything."""
    iam, _ = clouds
    environ.delenv("HUAWEICLOUD_SDK_AK")

    status, plan, err = run_deploy(*arguments(clouds, code, "--services", "ecs", "--dry-run"))

    assert (status, err, iam.seen) == (0, "", [])
    printed = {" ".join(match.groups()) for match in map(REQUEST_LINE.match, plan.splitlines())
               if match and "/v3" in match[2]}
    environ.setenv("HUAWEICLOUD_SDK_AK", AK)
    assert run_deploy(*arguments(clouds, code, "--services", "ecs"))[0] == 0
    (made,) = iam.agencies.values()
    replaced = {made["id"]: "{agency_id}", iam.role_id("ECS ReadOnlyAccess"): "{role_id}",
                "0c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5f": "%7Bdomain_id%7D"}
    real = set()
    for line in sent(iam):
        for value, placeholder in replaced.items():
            line = line.replace(value, placeholder)
        real.add(line)
    assert real == printed
    assert '"trust_domain_name": "op_svc_cff"' in plan and "GET /v3/auth/domains" in plan


@pytest.mark.parametrize("more, says", [
    (("--services", "ecs,nope"), "--services must name job APIs"),
    (("--services", "ecs,"), "--services must name job APIs"),
    (("--iam-endpoint", "http://iam.example.com"), "--iam-endpoint must use https://"),
])
def test_a_wrong_agency_option_is_one_line_naming_it(clouds, code, more, says):
    """Catches: an agency option taken without a check (a job API the registry lacks, keys sent over http)."""
    iam, functiongraph = clouds
    given = [word for word in arguments(clouds, code) if word not in ("--iam-endpoint", iam.base_url)]

    status, out, err = run_deploy(*given, *more)

    assert (status, out) == (2, "") and says in one_line(err)
    assert iam.seen == [] and functiongraph.seen == []


@pytest.mark.parametrize("option", [("--services", "ecs"), ("--iam-endpoint", "https://iam.example.com")])
def test_an_agency_option_without_create_agency_is_refused(clouds, code, option):
    """Catches: --services silently ignored (the user believes the agency was granted them)."""
    given = [word for word in arguments(clouds, code) if word not in ("--create-agency",)]
    given = given[:given.index("--iam-endpoint")]

    status, _, err = run_deploy(*given, *option)

    assert status == 2 and f"{option[0]}: only --create-agency uses it" in one_line(err)


def test_a_job_api_of_ones_own_has_no_documented_policy(clouds, code, environ):
    """Catches: granting a guessed policy for a JOBSTEP_SERVICES entry (the registry names no IAM policy for it)."""
    environ.setenv("JOBSTEP_SERVICES", '{"mine": {"host": "ecs", "path": "/v1/{project_id}/jobs/{job_id}",'
                   ' "success": ["SUCCESS"], "failure": ["FAIL"], "running": ["RUNNING"]}}')

    status, _, err = run_deploy(*arguments(clouds, code, "--services", "mine"))

    assert status == 2 and "no documented IAM policy covers the job API of mine" in one_line(err)
