"""Jobs, CronJobs and the cron schedule syntax."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api import batch_v1
from kubelite.api.validation.batch import CronError, parse_schedule


def job(restart: str = "Never", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "template": {"spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]}}
    }
    base.update(spec)
    return {"metadata": {"name": "j", "namespace": "default"}, "spec": base}


JOB_CASES = [
    ("valid", job(), []),
    ("OnFailure ok", job("OnFailure"), []),
    ("restartPolicy Always", job("Always"), [("FieldValueNotSupported", "spec.template.spec.restartPolicy")]),
    ("completions", job(completions=-1), [("FieldValueInvalid", "spec.completions")]),
    ("parallelism", job(parallelism=-1), [("FieldValueInvalid", "spec.parallelism")]),
    ("backoffLimit", job(backoffLimit=-1), [("FieldValueInvalid", "spec.backoffLimit")]),
    (
        "activeDeadlineSeconds",
        job(activeDeadlineSeconds=-5),
        [("FieldValueInvalid", "spec.activeDeadlineSeconds")],
    ),
    ("completionMode", job(completionMode="Sometimes"), [("FieldValueNotSupported", "spec.completionMode")]),
    (
        "indexed needs completions",
        job(completionMode="Indexed", parallelism=2),
        [("FieldValueRequired", "spec.completions")],
    ),
    ("manual selector required", job(manualSelector=True), [("FieldValueRequired", "spec.selector")]),
    (
        "manual selector mismatch",
        job(manualSelector=True, selector={"matchLabels": {"a": "b"}}),
        [("FieldValueInvalid", "spec.template.metadata.labels")],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), JOB_CASES, ids=[c[0] for c in JOB_CASES])
def test_job(v, name, data, expected):
    assert v.errors(v.build(batch_v1.Job, data)) == expected


def _stored_job():
    import msgspec

    from kubelite.api.defaults import apply_defaults

    obj = msgspec.convert(job(), batch_v1.Job)
    obj.metadata.uid = "0f0e"
    apply_defaults(obj)
    obj.metadata.resourceVersion = "1"
    return obj


def test_job_template_and_selector_immutable(v):
    old = _stored_job()
    assert old.spec.selector is not None
    new = copy.deepcopy(old)
    new.spec.template.spec.containers[0].image = "busybox:2"
    assert v.errors(new, old) == [("FieldValueInvalid", "spec.template")]
    sel = copy.deepcopy(old)
    sel.spec.selector.matchLabels = {"x": "y"}
    assert ("FieldValueInvalid", "spec.selector") in v.errors(sel, old)
    suspend = copy.deepcopy(old)
    suspend.spec.suspend = True
    assert v.errors(suspend, old) == []


def cron(schedule: str = "*/5 * * * *", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"schedule": schedule, "jobTemplate": {"spec": job()["spec"]}}
    base.update(spec)
    return {"metadata": {"name": "cj", "namespace": "default"}, "spec": base}


CRON_CASES = [
    ("valid", cron(), []),
    ("descriptor", cron("@hourly"), []),
    ("names", cron("0 9 * JAN-MAR mon-fri"), []),
    ("bad schedule", cron("every minute"), [("FieldValueInvalid", "spec.schedule")]),
    ("schedule required", cron(""), [("FieldValueRequired", "spec.schedule")]),
    ("TZ in schedule", cron("TZ=UTC * * * * *"), [("FieldValueInvalid", "spec.schedule")]),
    ("timeZone", cron(timeZone="Mars/Olympus"), [("FieldValueInvalid", "spec.timeZone")]),
    ("timeZone ok", cron(timeZone="Europe/Paris"), []),
    (
        "concurrencyPolicy",
        cron(concurrencyPolicy="Sometimes"),
        [("FieldValueNotSupported", "spec.concurrencyPolicy")],
    ),
    (
        "history limit",
        cron(successfulJobsHistoryLimit=-1),
        [("FieldValueInvalid", "spec.successfulJobsHistoryLimit")],
    ),
    (
        "job template restartPolicy",
        cron(jobTemplate={"spec": job("Always")["spec"]}),
        [("FieldValueNotSupported", "spec.jobTemplate.spec.template.spec.restartPolicy")],
    ),
]


@pytest.mark.parametrize(("name", "data", "expected"), CRON_CASES, ids=[c[0] for c in CRON_CASES])
def test_cron_job(v, name, data, expected):
    assert v.errors(v.build(batch_v1.CronJob, data)) == expected


def test_cron_job_name_length(v):
    data = cron()
    data["metadata"]["name"] = "a" * 53
    assert v.errors(v.build(batch_v1.CronJob, data)) == [("FieldValueInvalid", "metadata.name")]


@pytest.mark.parametrize(
    "schedule",
    [
        "* * * * *",
        "0 0 1 1 *",
        "*/15 0-23/2 1,15 * 0",
        "@every 1h30m",
        "@midnight",
        "5 4 * * sun",
        "0 0 ? * *",
    ],
)
def test_schedule_ok(schedule):
    parse_schedule(schedule)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* 5-2 * * *", "beginning of range (5) beyond end of range (2): 5-2"),
        ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("@sometimes", "unrecognized descriptor: @sometimes"),
        ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ],
)
def test_schedule_errors(schedule, message):
    with pytest.raises(CronError) as info:
        parse_schedule(schedule)
    assert str(info.value) == message
