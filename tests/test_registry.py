"""An entry of the registry of job APIs (services.py), rule by rule: what job_api accepts and keeps, the key each
refusal names, and how job_of reads a body by the entry. Pure functions, called directly."""

import pytest
from jobstep.model import ServiceError, Status
from jobstep.services import DOMAINS, JOB_FIELDS, PROGRESS_SCALES, SUB_JOB_FIELDS, Registry, _without, job_api

# The least an entry gives (docs/job-apis.md, "Your own job API").
MINIMAL = {"host": "ecs", "path": "/v1/{project_id}/jobs/{job_id}", "success": ["SUCCESS"], "failure": ["FAIL"]}
EVERY_LABEL_CHARACTER = "abcdefghijklmnopqrstuvwxyz0123456789-"


def test_a_minimal_entry_takes_the_documented_defaults_and_keeps_every_key():
    # A job API keeps every key of its entry; what an entry leaves out is the classic ELB's: the body is the job,
    # its fields under their own names, sub-jobs, their total, progress and an expected end unmapped, a percent
    # scale, RUNNING as the running status, no other hosts or domains. Catches: a default changed or a key dropped.
    api = job_api("mine", MINIMAL)

    assert (api.source, api.host, api.path, api.query, api.job) == ("", "ecs", MINIMAL["path"], (), ())
    assert dict(api.fields) == {field: (field,) for field in JOB_FIELDS
                                if field not in ("sub_jobs", "sub_jobs_total", "progress", "expected_end_time")}
    assert dict(api.sub_job) == {field: (field,) for field in SUB_JOB_FIELDS}
    assert (api.progress_scale, api.running, api.hosts, api.domains) == ("percent", ("RUNNING",), (), ())
    assert (api.success, api.failure) == (("SUCCESS",), ("FAIL",))


def test_an_entry_keeps_what_it_gives():
    # Catches: a given key replaced by its default or dropped.
    entry = {**MINIMAL, "source": "ecs v2 show_job", "running": ["INIT", "RUNNING"], "success": ["Done"],
             "failure": ["Failed", "Cancelled"], "job": "jobs.0", "query": {"id": "{job_id}"},
             "hosts": {"eu-west-101": "ecs-eu"}, "domains": {"eu-west-101": "myhuaweicloud.eu"},
             "progress_scale": "fraction"}

    api = job_api("mine", entry)

    assert api.source == "ecs v2 show_job" and api.running == ("INIT", "RUNNING") and api.job == ("jobs", "0")
    assert (api.success, api.failure) == (("Done",), ("Failed", "Cancelled"))
    assert api.hosts == (("eu-west-101", "ecs-eu"),) and api.domains == (("eu-west-101", "myhuaweicloud.eu"),)
    assert api.query == (("id", "{job_id}"),) and api.progress_scale == "fraction"


@pytest.mark.parametrize("host", ["a", "e-cs", EVERY_LABEL_CHARACTER, "a" * 63])
def test_a_host_label_of_one_to_63_letters_digits_or_dashes_not_first_is_accepted(host):
    # RFC 1035's label: 1-63 characters; lower-case letters, digits and '-', any of them, '-' not first. Catches: a
    # bound moved by one, a '-' refused in second place, or a label that uses every character refused.
    assert job_api("mine", {**MINIMAL, "host": host}).host == host


@pytest.mark.parametrize("key, value, names", [
    ("host", "", "host"), ("host", "a" * 64, "host"), ("host", "-ecs", "host"), ("host", "ECS", "host"),
    ("host", 7, "host"),
    ("hosts", {"ap-southeast-1": "-x"}, "hosts.ap-southeast-1"), ("hosts", ["x"], "hosts"),
    ("domains", ["x"], "domains"), ("domains", {"eu-west-101": "example.com"}, "domains.eu-west-101"),
    ("path", "v1/{job_id}", "path"), ("path", "/v1/{job_id}/{", "path"), ("path", "/v1/{job_id}/}", "path"),
    ("path", "/v1/{job_id}/{x}", "path"), ("path", "/v1/{job_id}?a=b", "path"), ("path", "/v1/jobs", "path"),
    ("query", ["id"], "query"), ("query", {"id": 7}, "query"), ("query", {"a-b": "{job_id}"}, "query.a-b"),
    ("query", {"id": "{job_id}&x"}, "query.id"), ("job", 7, "job"), ("source", 7, "source"),
    ("success", [], "success"), ("success", [" "], "success"), ("failure", "FAIL", "failure"),
    ("running", [], "running"), ("progress_scale", "tenths", "progress_scale"),
    ("fields", [], "fields"), ("fields", {"colour": "x"}, "fields.colour"),
    ("fields", {"status": "a..b"}, "fields.status"),
    ("fields", {"status": "a-b"}, "fields.status"), ("fields", {"status": 7}, "fields.status"),
    ("sub_job", {"progress": "x"}, "sub_job.progress"), ("colour", "red", "colour"),
])
def test_a_bad_key_is_refused_naming_the_service_and_the_key(key, value, names):
    # A ServiceError names the entry and the key that is wrong, so that a JOBSTEP_SERVICES user can fix it.
    # Catches: a check that lets a bad value through, or a refusal without the service's name or the key's.
    with pytest.raises(ServiceError) as refused:
        job_api("mine", {**MINIMAL, key: value})
    message = str(refused.value)
    assert message.startswith(f"service 'mine': {names} must be ") and not message.endswith(" must be None")


@pytest.mark.parametrize("missing", ["host", "path", "success", "failure"])
def test_a_required_key_left_out_is_refused_naming_it(missing):
    # Catches: a required key taken as given, or its refusal not naming it.
    entry = {key: value for key, value in MINIMAL.items() if key != missing}
    with pytest.raises(ServiceError, match=f"^service 'mine': {missing} must be given$"):
        job_api("mine", entry)


def test_a_refusal_lists_what_is_allowed():
    # Catches: the allowed names or values left out of the refusal, or joined otherwise than as a list.
    for key, value, allowed in [("fields", {"colour": "x"}, JOB_FIELDS), ("progress_scale", "x", PROGRESS_SCALES),
                                ("domains", {"r": "x"}, DOMAINS), ("colour", 1, None)]:
        with pytest.raises(ServiceError) as refused:
            job_api("mine", {**MINIMAL, key: value})
        assert ", ".join(allowed or ("source", "host", "hosts")) in str(refused.value)
    with pytest.raises(ServiceError, match="must be an object with the keys source, host, hosts"):
        job_api("mine", ["not", "an", "object"])


def test_a_job_id_in_a_query_value_alone_and_underscored_names_are_accepted():
    # GeminiDB's list by id (?id={job_id}); field paths and parameters with '_' (error_info.code). Catches: '_'
    # refused in a parameter's name or a field path.
    api = job_api("mine", {**MINIMAL, "path": "/v3/{project_id}/jobs", "query": {"job_id": "{job_id}"},
                           "fields": {"error_code": "error_info.code"}})

    assert api.query == (("job_id", "{job_id}"),) and dict(api.fields)["error_code"] == ("error_info", "code")


# --- reading a body by the entry


def test_a_body_is_read_where_the_entry_says_and_only_the_mapped_fields():
    # A job in a list (`jobs.0`); the fields an entry does not map are not read, even under their own names.
    # Catches: the job path split otherwise than at its dots, or an unmapped sub-job list, total, progress or
    # expected end read anyway.
    api = job_api("mine", {**MINIMAL, "job": "jobs.0"})
    body = {"jobs": [{"status": "RUNNING", "sub_jobs": [{"status": "FAIL"}], "sub_jobs_total": 4, "progress": 50,
                      "expected_end_time": "2026-11-28T09:00:00Z"}]}

    job = api.job_of(body)

    assert job is not None and job.status == "RUNNING"
    assert (job.sub_jobs, job.sub_jobs_total, job.progress, job.expected_end_time) == (None, None, None, None)
    assert api.lists_no_job({"jobs": []}) and not api.lists_no_job(body)


def test_a_job_without_a_status_is_no_job():
    # Catches: an outcome looked up for a status that is not there (a crash).
    assert job_api("mine", MINIMAL).job_of({"job_id": "job-1"}) is None


@pytest.mark.parametrize("scale, given, fraction", [
    ("percent", 60, 0.6), ("percent", "60%", 0.6), ("fraction", 0.6, 0.6),
    # Past either end a job is done or not begun: a fraction stays within 0-1 (Progress's bounds).
    ("percent", 150, 1.0), ("fraction", 1.5, 1.0), ("percent", -5, 0.0),
    # Only a trailing percent sign (and spaces) is taken off: another letter before it is no number.
    ("percent", " 60 % ", 0.6), ("percent", "60X%", None),
])
def test_a_progress_field_is_read_by_its_scale(scale, given, fraction):
    # Catches: the scale lost between the entry and the reading (60 % read as done), an upper bound other than 1, or
    # more than the percent sign stripped.
    api = job_api("mine", {**MINIMAL, "fields": {"progress": "progress"}, "progress_scale": scale})

    job = api.job_of({"status": "RUNNING", "progress": given})

    assert job is not None and job.progress == fraction


ECS_LIKE = {**MINIMAL, "fields": {"sub_jobs": "entities.sub_jobs", "sub_jobs_total": "entities.sub_jobs_total"}}


@pytest.mark.parametrize("listed, total, counts", [
    ([{"status": "SUCCESS"}, {"status": "fail"}, {"status": "RUNNING"}, {}], None, (4, 2, 1)),
    ([{"status": "SUCCESS"}], 5, (5, 1, 0)),
    ([{"status": "SUCCESS"}, {"status": "SUCCESS"}], 1, (2, 2, 0)),
    ([], None, (0, 0, 0)),
])
def test_sub_jobs_are_counted_by_the_entrys_words_and_the_total_is_the_larger_of_given_and_listed(listed, total,
                                                                                                  counts):
    # A sub-job's outcome is its status by the entry's words (any case); a sub-job without a status runs. The total
    # is the API's own count, or as many as it lists when that is more. Catches: a count dropped or taken from
    # elsewhere, a sub-job without a status crashing the reading, an empty list counted as one.
    entities = {"sub_jobs": listed, **({"sub_jobs_total": total} if total is not None else {})}

    job = job_api("mine", ECS_LIKE).job_of({"status": "RUNNING", "entities": entities})

    assert job is not None and (job.sub_jobs_total, job.sub_jobs_done, job.sub_jobs_failed) == counts
    assert [sub.outcome for sub in job.sub_jobs or ()][:1] == ([Status.FAIL] if counts[2] else
                                                               [Status.SUCCESS] if listed else [])


def test_entities_are_shown_without_the_sub_job_list_they_hold():
    # README: `entities` as the API gave them, without the sub-job list that `sub_jobs` shows. Catches: entities
    # dropped, or shown with the list.
    job = job_api("mine", ECS_LIKE).job_of({"status": "RUNNING",
                                            "entities": {"sub_jobs": [{"status": "SUCCESS"}], "elb_id": "elb-1"}})

    assert job is not None and job.entities == {"elb_id": "elb-1"}


@pytest.mark.parametrize("tree, root, path, left", [
    ({"sub_jobs": [1], "id": 2}, ("entities",), ("entities", "sub_jobs"), {"id": 2}),
    ({"a": {"sub_jobs": [1], "k": 2}, "b": 3}, ("entities",), ("entities", "a", "sub_jobs"), {"a": {"k": 2}, "b": 3}),
    ({"b": 3}, ("entities",), ("entities", "a", "sub_jobs"), {"b": 3}),
    ({"sub_jobs": [1], "id": 2}, ("x", "entities"), ("x", "entities", "sub_jobs"), {"id": 2}),
    ({"sub_jobs": [1]}, ("entities",), ("sub_jobs",), {"sub_jobs": [1]}),
    ({"sub_jobs": [1]}, ("entities",), ("entities",), {"sub_jobs": [1]}),
    ([{"sub_jobs": [1]}], ("entities",), ("entities", "sub_jobs"), [{"sub_jobs": [1]}]),
])
def test_what_another_field_holds_is_taken_out_of_a_tree_and_nothing_else(tree, root, path, left):
    # _without: the tree found at `root`, less what `path` points to below it; a path elsewhere, the root itself or a
    # tree that is not an object leave it whole, and a path through a key that is not there adds nothing.
    # Catches: any of these cases turned into another (a flipped test, a wrong slice, a key kept instead of dropped).
    assert _without(tree, root, path) == left


@pytest.mark.parametrize("job_path, body", [
    ("jobs.1", {"jobs": [{"status": "RUNNING"}]}),  # an index one past the end of the list
    ("jobs.first", {"jobs": [{"status": "RUNNING"}]}),  # a name where the body has a list
    ("jobs.0.status.x", {"jobs": [{"status": "RUNNING"}]}),  # a path through a text
])
def test_a_path_that_leads_nowhere_in_the_body_finds_no_job(job_path, body):
    # Catches: an index at the list's length read (IndexError), or a name used as an index (ValueError): a body the
    # entry does not fit must be "no job" (a bad_response the loop retries), not a crash.
    api = job_api("mine", {**MINIMAL, "job": job_path})

    assert api.job_of(body) is None


def test_a_job_api_url_has_the_ids_as_one_path_segment_each_and_every_query_parameter():
    # The ids are quoted whole ('/' included), so that neither can add a path segment; the query parameters are
    # joined by '&'. Catches: quote's default safe '/' (a job id of "a/../b" would walk the path), or another
    # separator between parameters.
    api = job_api("mine", {**MINIMAL, "path": "/v1/{project_id}/jobs", "query": {"id": "{job_id}", "limit": "1"}})

    url = api.url("https://h", "p/1", "a/../b")

    assert url == "https://h/v1/p%2F1/jobs?id=a%2F..%2Fb&limit=1"


def test_sub_jobs_past_those_shown_are_still_counted_whole():
    # 30 sub-jobs, 12 of them failed and none given a total: the counts are of all 30, whatever the answer shows.
    # Catches: done, failed or total left to be counted from the sub-jobs shown (the list is cut for the answer).
    listed = [{"status": "FAIL" if number % 5 < 2 else "SUCCESS"} for number in range(30)]

    job = job_api("mine", ECS_LIKE).job_of({"status": "RUNNING", "entities": {"sub_jobs": listed}})

    assert job is not None and job.sub_jobs is not None and len(job.sub_jobs) < len(listed)
    assert (job.sub_jobs_total, job.sub_jobs_done, job.sub_jobs_failed) == (30, 30, 12)


def test_the_registry_reads_an_entry_on_first_use_naming_it_and_counts_each_name_once():
    # A Mapping of every name it holds: its own entries, the built-in ones and the aliases, each once (len agrees with
    # iteration); an entry is read when first asked for, and a bad one is refused naming it. Catches: len counting
    # otherwise than it iterates, or an entry read under another name (a refusal that names no service).
    registry = Registry({"good": MINIMAL, "broken": {**MINIMAL, "host": ""}}, {"old": "good"},
                        {"mine": job_api("mine", MINIMAL)})

    assert list(registry) == ["mine", "good", "broken", "old"] and len(registry) == 4
    assert registry["old"] == registry["good"] == job_api("good", MINIMAL)
    with pytest.raises(ServiceError, match="^service 'broken': host must be "):
        registry["broken"]
