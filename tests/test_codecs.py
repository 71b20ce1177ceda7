"""The records' codecs (model.py), rule by rule: each writes what it reads back, and reading validates a value fed back
as input, naming what is wrong. Pure functions, called directly."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from jobstep.events import _group_from_query
from jobstep.model import (
    _GROUP_BRIEF_MESSAGE,
    FUTURE_TOLERANCE,
    MAX_ANSWER_CHARS,
    MAX_COUNT,
    MAX_MESSAGE,
    MAX_WAIT_LIMIT,
    POLL_QUERY,
    TRACK_DIGITS,
    Error,
    ErrorType,
    GroupResult,
    InvalidInput,
    Job,
    JobRef,
    Poll,
    Progress,
    Result,
    Status,
    SubJob,
    Track,
    Until,
    format_time,
)

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
START = datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc)


def read_back(poll):
    """A poll through its query string and back, as a Location carries it."""
    return Poll.from_dict(Poll.from_query(dict(poll.to_query())), "job-1", NOW)


@pytest.mark.parametrize("poll", [
    Poll(3, START, 3600, 2, Track(0.35, 12.5)),
    Poll(1, START, None, 0, None),
    Poll(0, None, 120, 0, Track(0.0, 0.0)),
    Poll(7, None, None, 5, Track(1.0, 3599.9)),
])
def test_a_poll_reads_back_from_its_query_string_as_it_was(poll):
    # Poll.to_query writes what Poll.from_query reads (docs/events.md: how Location carries the loop's state), the
    # fields that have a value, in POLL_QUERY's order. Catches: a field left out or written when absent, the
    # progress pair replacing the rest, reading stopped at the first absent field, progress not read back.
    written = poll.to_query()

    assert read_back(poll) == poll
    assert [name for name, _ in written] == [name for name in POLL_QUERY if name in dict(written)]


@pytest.mark.parametrize("parameters, names", [
    ({"attempt": "1" * 11}, "attempt"), ({"errors": "-1"}, "errors"), ({"max_wait": "1e3"}, "max_wait"),
    ({"progress": "0.5"}, "progress and progress_at"), ({"progress_at": "3.0"}, "progress and progress_at"),
    ({"progress": "x", "progress_at": "3.0"}, "parameter progress must"),
    ({"progress": "0.5", "progress_at": "3,0"}, "parameter progress_at must"),
])
def test_a_query_string_not_as_to_query_writes_it_is_refused_naming_the_parameter(parameters, names):
    # to_query writes whole numbers of at most ten digits (a count saturates at 10**9) and the progress pair
    # together. Catches: an eleventh digit read, a refusal without its message or naming another parameter.
    with pytest.raises(InvalidInput) as refused:
        Poll.from_query(parameters)
    assert names in str(refused.value)


def test_counters_and_a_track_are_written_within_what_they_read_back():
    # Whatever arithmetic made them, a poll's counters saturate at MAX_COUNT and a track's values stay in their
    # ranges at their resolution, so the next call reads them back. Catches: a bound or a rounding moved.
    poll = Poll(MAX_COUNT + 5, START, 60, MAX_COUNT + 1, Track(1.5, MAX_WAIT_LIMIT * 2.0))

    written = poll.to_dict()

    assert (written["attempt"], written["errors"]) == (MAX_COUNT, MAX_COUNT)
    assert written["progress"] == {"fraction": 1.0, "at": float(MAX_WAIT_LIMIT)}
    assert Track(-0.5, -3.0).to_dict() == {"fraction": 0.0, "at": 0.0}
    assert Track(1 / 3, 10.04).to_dict() == {"fraction": round(1 / 3, TRACK_DIGITS), "at": 10.0}
    assert Poll.from_dict(written, "job-1", NOW).attempt == MAX_COUNT


# --- an error fed back


GOOD_ERROR = {"type": "unavailable", "message": "The job API answered HTTP 503. Will retry.", "retryable": True,
              "http_status": 503}


@pytest.mark.parametrize("status", [None, 100, 503, 999])
def test_an_error_fed_back_reads_as_jobstep_wrote_it(status):
    # Error.to_dict writes what from_dict reads: the http_status of the job API (100-999, as http.client reads one)
    # only when there is one. Catches: the status not read back, or a bound moved.
    error = Error(ErrorType.UNAVAILABLE, "The job API answered HTTP 503.", True, status)

    written = error.to_dict()

    assert ("http_status" in written) is (status is not None)
    assert Error.from_dict(written, "job-1") == error


def test_an_error_message_is_carried_to_its_bound():
    # Catches: the bound on a message's length moved, when written or when read.
    long = Error(ErrorType.UNAVAILABLE, "x" * (MAX_MESSAGE + 10), True)

    assert len(long.to_dict()["message"]) == MAX_MESSAGE
    assert len(Error.from_dict({**GOOD_ERROR, "message": "x" * (MAX_MESSAGE + 10)}, "job-1").message) == MAX_MESSAGE


@pytest.mark.parametrize("raw, says", [
    ("unavailable", "error must be the object"),
    ({**GOOD_ERROR, "type": "bogus"}, "'bogus'"),
    ({**GOOD_ERROR, "message": 7}, "error must keep"), ({**GOOD_ERROR, "retryable": "yes"}, "error must keep"),
    ({**GOOD_ERROR, "http_status": 99}, "error must keep"), ({**GOOD_ERROR, "http_status": 1000}, "error must keep"),
    ({**GOOD_ERROR, "http_status": 503.0}, "error must keep"), ({**GOOD_ERROR, "http_status": True}, "error must keep"),
])
def test_an_error_not_as_jobstep_wrote_it_is_refused_for_its_job(raw, says):
    # A result fed back must keep its error as a call gave it; the refusal names the job and says what is wrong.
    # Catches: one bad field let through by the others, a refusal without its job or its words.
    with pytest.raises(InvalidInput) as refused:
        Error.from_dict(raw, "job-1")
    assert refused.value.job_id == "job-1" and says in str(refused.value)


# --- a finished result fed back, and its progress


@pytest.mark.parametrize("progress", [
    Progress(0.5, "sub_jobs", (2, 1, 4), 30), Progress(1.0, "percent", None, 0), Progress(0.25, "expected_end"),
])
def test_a_progress_reads_back_as_it_was_shown(progress):
    # Progress.to_dict writes what from_dict reads: fraction, source, the three sub-job counts and the seconds left
    # (0 included). Catches: a field not read back, read from another key, or a bound moved.
    assert Progress.from_dict(progress.to_dict()) == progress


@pytest.mark.parametrize("raw, read", [
    ("half", None), ({"fraction": 1.5, "source": "percent"}, None), ({"fraction": 0.5, "source": 7}, None),
    ({"fraction": 0.5, "source": "percent", "sub_jobs": {"done": 1, "total": 4}, "eta_seconds": -1},
     Progress(0.5, "percent")),
    ({"fraction": 0.5, "source": "percent", "sub_jobs": {"failed": 0, "total": 4, "done": 1}, "eta_seconds": 2.5},
     Progress(0.5, "percent", (1, 0, 4))),
    ({"fraction": 0.5, "source": "percent", "sub_jobs": {"done": 1, "failed": 0}}, Progress(0.5, "percent")),
    ({"fraction": 0.5, "source": "percent", "sub_jobs": {"done": None, "failed": 0, "total": 4}},
     Progress(0.5, "percent")),
    ({"fraction": 0.5, "source": "percent", "sub_jobs": [1, 0, 4], "eta_seconds": True}, Progress(0.5, "percent")),
    ({"fraction": 0.5, "source": "s" * 30}, Progress(0.5, "s" * 20)),
])
def test_a_hand_edited_progress_is_read_as_far_as_it_is_one(raw, read):
    # A result fed back is answered as it is, its progress as far as it is one: none without a fraction 0-1 and a
    # source (cut to 20 characters, longer than any jobstep writes); sub-jobs only with all three counts; the
    # seconds left only as a whole number from 0. Catches: a check dropped, or one count standing for all three.
    assert Progress.from_dict(raw) == read


@pytest.mark.parametrize("status, kept", [("X", True), ("S" * 64, True), ("", False), ("S" * 65, False), (7, False)])
def test_a_finished_result_fed_back_keeps_a_status_of_1_to_64_characters(status, kept):
    # Catches: a bound moved, or a status that is no text crashing the check.
    finished = {"job_id": "job-1", "done": True, "status": status}

    if kept:
        assert Result.from_dict(finished, "job-1", NOW).status == status
    else:
        with pytest.raises(InvalidInput, match="keep its status") as refused:
            Result.from_dict(finished, "job-1", NOW)
        assert refused.value.job_id == "job-1"


def test_a_finished_result_reads_back_whole_as_it_was_written():
    # A finished result fed back is answered as it is: Result.to_dict writes what from_dict reads, its job, error,
    # loop state and progress included. Catches: a part of it not read back, or read from another key.
    error = Error(ErrorType.JOB_FAILED, "The job failed.", False)
    job = Job("FAIL", "job-1", sub_jobs=(SubJob("FAIL", "sub-1", outcome=Status.FAIL),), sub_jobs_total=1,
              sub_jobs_done=1, sub_jobs_failed=1, outcome=Status.FAIL)
    finished = Result(JobRef("job-1", "project-1", "ap-southeast-3", "ecs"), True, "FAIL", None, job, error,
                      Poll(4, START, 3600, 0, Track(0.5, 30.0)), Progress(0.5, "sub_jobs", (2, 1, 4), None))

    written = finished.to_dict()

    assert written["job"]["outcome"] == written["job"]["sub_jobs"][0]["outcome"] == "FAIL"
    assert Result.from_dict(written, "job-1", NOW) == finished


def test_a_job_is_written_as_its_fields_and_nothing_else_its_outcome_a_plain_string():
    # Each record writes only what it reads back, and a closed set as the string it stands for. Catches: the
    # outcome written under another key (the record's own value left beside it), or as the enum member.
    job = Job("FAIL", "job-1", sub_jobs=(SubJob("FAIL", "sub-1", outcome=Status.FAIL),), outcome=Status.FAIL)

    written = job.to_dict()

    assert set(written) == set(Job._fields) and set(written["sub_jobs"][0]) == set(SubJob._fields)
    assert type(written["outcome"]) is str and type(written["sub_jobs"][0]["outcome"]) is str


@pytest.mark.parametrize("retry_after", [1, MAX_WAIT_LIMIT])
def test_a_running_result_fed_back_keeps_its_retry_after(retry_after):
    # A done group fed back answers its jobs as they are, a job still running with its retry_after: whole seconds,
    # at least 1 (README), never past MAX_WAIT_LIMIT. Catches: a bound moved inward.
    running = {"job_id": "job-1", "done": False, "status": "RUNNING", "retry_after": retry_after}

    assert Result.from_dict(running, "job-1", NOW).retry_after == retry_after


@pytest.mark.parametrize("retry_after", [0, -1, MAX_WAIT_LIMIT + 1, 5.0, True, "5", None])
def test_a_running_result_fed_back_without_a_retry_after_jobstep_writes_is_refused_for_its_job(retry_after):
    # Catches: a bound moved outward, a type let through by the range (or a crash on one), a refusal without its
    # words or its job.
    running = {"job_id": "job-1", "done": False, "status": "RUNNING", "retry_after": retry_after}

    with pytest.raises(InvalidInput, match="keep its retry_after") as refused:
        Result.from_dict(running, "job-1", NOW)
    assert refused.value.job_id == "job-1"


def test_a_finished_result_fed_back_has_no_retry_after_whatever_it_says():
    # retry_after is null when done (README): a hand-edited one is not carried on. Catches: it read back as given.
    finished = {"job_id": "job-1", "done": True, "status": "SUCCESS", "retry_after": 30}

    assert Result.from_dict(finished, "job-1", NOW).retry_after is None


@pytest.mark.parametrize("field, value", [("region", "r" * 65), ("error", "failed"), ("poll", "again")])
def test_a_finished_result_with_a_bad_part_is_refused_for_its_job(field, value):
    # Catches: a refusal of a part that does not name the job, or a part not checked.
    finished = {"job_id": "job-1", "done": True, "status": "SUCCESS", field: value}

    with pytest.raises(InvalidInput) as refused:
        Result.from_dict(finished, "job-1", NOW)
    assert refused.value.job_id == "job-1" and field in str(refused.value)


# --- the loop's state fed back


def test_a_poll_fed_back_reads_as_it_was_written_and_an_absent_one_starts_a_loop():
    # Poll.to_dict writes what from_dict reads; an absent poll, or absent fields, take the defaults of a new loop.
    # Catches: a field not read back or read from another key, a default changed.
    poll = Poll(MAX_COUNT, START, MAX_WAIT_LIMIT, 3, Track(1.0, float(MAX_WAIT_LIMIT)))

    assert Poll.from_dict(poll.to_dict(), "job-1", NOW) == poll
    assert Poll.from_dict(None, "job-1", NOW) == Poll.from_dict({}, "job-1", NOW) == Poll()
    assert Poll.from_dict({"max_wait": 1, "started_at": None}, "job-1", NOW) == Poll(max_wait=1)
    assert Poll.from_dict({"progress": {"fraction": 0, "at": 0}}, "job-1", NOW).progress == Track(0, 0)


def test_a_loop_start_up_to_the_tolerance_ahead_of_now_is_taken_and_later_is_refused():
    # started_at comes from the orchestrator's clock, allowed FUTURE_TOLERANCE of drift. Catches: the bound moved.
    at_limit = format_time(NOW + FUTURE_TOLERANCE)
    past_it = format_time(NOW + FUTURE_TOLERANCE + timedelta(seconds=1))

    assert Poll.from_dict({"started_at": at_limit}, "job-1", NOW).started_at == NOW + FUTURE_TOLERANCE
    with pytest.raises(InvalidInput, match="future") as refused:
        Poll.from_dict({"started_at": past_it}, "job-1", NOW)
    assert refused.value.job_id == "job-1"


@pytest.mark.parametrize("raw, names", [
    ("again", "poll must be the object"), ({"started_at": "yesterday"}, "poll.started_at"),
    ({"started_at": 17}, "poll.started_at"),
    ({"max_wait": 0}, "poll.max_wait"), ({"max_wait": MAX_WAIT_LIMIT + 1}, "poll.max_wait"),
    ({"max_wait": True}, "poll.max_wait"), ({"max_wait": 60.0}, "poll.max_wait"), ({"max_wait": "60"}, "poll.max_wait"),
    ({"attempt": -1}, "poll.attempt"), ({"attempt": MAX_COUNT + 1}, "poll.attempt"), ({"errors": True}, "poll.errors"),
    ({"errors": 1.0}, "poll.errors"),
    ({"progress": "half"}, "poll.progress"), ({"progress": {"fraction": 0.5}}, "poll.progress"),
    ({"progress": {"fraction": -0.01, "at": 1}}, "poll.progress"),
    ({"progress": {"fraction": 1.01, "at": 1}}, "poll.progress"),
    ({"progress": {"fraction": 0.5, "at": -0.1}}, "poll.progress"),
    ({"progress": {"fraction": 0.5, "at": MAX_WAIT_LIMIT + 1}}, "poll.progress"),
    ({"progress": {"fraction": True, "at": 1}}, "poll.progress"),
])
def test_a_poll_not_as_a_call_wrote_it_is_refused_for_its_job_naming_the_field(raw, names):
    # A poll fed back must be as a previous call returned it: whole numbers in their ranges, a time, a progress
    # reading of a fraction 0-1 and the seconds since the start. Catches: a check dropped or a bound moved, a
    # refusal that names another field or no job.
    with pytest.raises(InvalidInput) as refused:
        Poll.from_dict(raw, "job-1", NOW)
    assert refused.value.job_id == "job-1" and names in str(refused.value)


# --- an answer's bound, and a group's


def padded(snapshot, length):
    """`snapshot` with entities of `length` characters of JSON beyond an empty string's."""
    return snapshot._replace(entities="x" * length)


def test_a_result_with_sub_jobs_is_shown_whole_up_to_the_bound_and_in_brief_past_it():
    # An answer is at most MAX_ANSWER_CHARS long: one of exactly that many is shown whole, one more is shown in
    # brief (no entities, no sub-job list), a running job's without an error. Catches: the bound itself taken as
    # past it, or a brief form that cuts an error the result does not have.
    snapshot = Job("RUNNING", "job-1", sub_jobs=(SubJob("RUNNING", "sub-1"),), sub_jobs_total=1)
    running = Result(JobRef("job-1"), False, "RUNNING", 60, padded(snapshot, 0), None, Poll(1, START))
    room = MAX_ANSWER_CHARS - len(json.dumps(running.to_dict()))

    at_bound = running._replace(job=padded(snapshot, room)).to_dict()
    past_it = running._replace(job=padded(snapshot, room + 1)).to_dict()

    assert len(json.dumps(at_bound)) == MAX_ANSWER_CHARS and at_bound["job"]["entities"] == "x" * room
    assert at_bound["job"]["sub_jobs"] == [snapshot.sub_jobs[0].to_dict()]
    assert (past_it["job"]["entities"], past_it["job"]["sub_jobs"], past_it["error"]) == (None, [], None)
    assert past_it["job"]["sub_jobs_total"] == 1


def test_a_group_is_shown_whole_up_to_the_bound_and_past_it_each_error_cut_not_dropped():
    # A group's answer is at most MAX_ANSWER_CHARS long: one of exactly that many is shown whole; one more shows
    # each job's result without its snapshot, and every error, the jobs' and the group's, with its message cut
    # to its start. Catches: the bound itself taken as past it, an error dropped from the brief form, or the
    # group's error left whole.
    failed = Error(ErrorType.JOB_FAILED, "The job failed: " + "reason " * 60, False)
    ended = Error(ErrorType.JOB_FAILED, "The group ended: " + "because " * 60, False)
    assert len(failed.message) > _GROUP_BRIEF_MESSAGE and len(ended.message) > _GROUP_BRIEF_MESSAGE
    snapshot = Job("FAIL", "job-1", outcome=Status.FAIL)

    def group(length):
        members = (Result(JobRef("job-1"), True, "FAIL", None, padded(snapshot, length), failed, Poll(1, START)),
                   Result(JobRef("job-2"), True, "SUCCESS", None, None, None, Poll(1, START)))
        return GroupResult(Until.ALL, members, True, "FAIL", None, ended)

    room = MAX_ANSWER_CHARS - len(json.dumps(group(0).to_dict()))
    at_bound, past_it = group(room).to_dict(), group(room + 1).to_dict()

    assert len(json.dumps(at_bound)) == MAX_ANSWER_CHARS and at_bound["jobs"][0]["job"]["entities"] == "x" * room
    assert at_bound["jobs"][0]["error"] == failed.to_dict() and at_bound["error"] == ended.to_dict()
    assert [job["job"] for job in past_it["jobs"]] == [None, None]
    assert Error.from_dict(past_it["jobs"][0]["error"], "job-1") == failed._replace(
        message=failed.message[:_GROUP_BRIEF_MESSAGE])
    assert past_it["jobs"][1]["error"] is None
    assert Error.from_dict(past_it["error"], "job-1") == ended._replace(message=ended.message[:_GROUP_BRIEF_MESSAGE])


def test_a_groups_location_carries_each_jobs_state_in_its_place():
    # GroupResult.to_query writes one entry per job in each list, "" where a job has none, and events.py reads
    # each job's own state back: its refs (project_id among them), its loop state whichever fields it has, and
    # no id for a job without one (an internal error's result knows none). Catches: a list that starts past
    # project_id, a job without a poll field breaking its list, an id made up for a job without one.
    members = (
        Result(JobRef("job-1", "project-1", "ap-southeast-1", "ecs"), False, "RUNNING", 30, None, None,
               Poll(3, START, 3600, 1, Track(0.5, 12.5))),
        Result(JobRef("job-2"), False, "RUNNING", 60, None, None, Poll(1, START)),
        Result(JobRef(), True, "ERROR", None, None, Error(ErrorType.INTERNAL, "A bug.", False), Poll()),
    )
    group = GroupResult(Until.ANY, members, False, "RUNNING", 30, None)

    fed = _group_from_query(dict(group.to_query()))

    first, second, third = fed["jobs"]
    assert fed["until"] == "any"
    assert (first["job_id"], first["project_id"], first["region"], first["service"]) == ("job-1", *members[0].ref[1:])
    assert Poll.from_dict(first["poll"], "job-1", NOW) == members[0].poll
    assert second["job_id"] == "job-2" and "project_id" not in second
    assert Poll.from_dict(second["poll"], "job-2", NOW) == members[1].poll
    assert third["job_id"] == "" and (third["done"], third["status"]) == (True, "ERROR")
