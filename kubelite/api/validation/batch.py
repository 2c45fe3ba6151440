"""Validation of batch/v1: Job and CronJob, with the cron schedule syntax Kubernetes accepts."""

from __future__ import annotations

import re
from typing import Any

from kubelite.api.errors import FieldError, forbidden, invalid_value, not_supported, required
from kubelite.api.validation.common import (
    IMMUTABLE,
    child,
    nonnegative,
    plain,
    selector_is_empty,
    selector_matches,
    validate_label_selector,
)
from kubelite.api.validation.pods import validate_pod_template_spec

# -- cron schedules -------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DOWS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
# (min, max, names) per field: minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DOWS),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_DURATION_RE = re.compile(r"^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$")


class CronError(ValueError):
    pass


def _parse_int(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax')
    n = int(text)
    if n < 0:
        raise CronError(f"negative number ({n}) not allowed: {text}")
    return n


def _parse_value(text: str, names: dict[str, int]) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _parse_int(text)


def _parse_range(expr: str, lo: int, hi: int, names: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    low_and_high = range_and_step[0].split("-")
    single_digit = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _parse_value(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_value(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if single_digit:
            end = hi
    else:
        step = 1
    if start < lo:
        raise CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")


def parse_schedule(schedule: str) -> None:
    """Raise CronError (with robfig/cron's wording) unless ``schedule`` is a standard cron spec."""
    if not schedule:
        raise CronError("empty spec string")
    spec = schedule
    if spec.startswith(("TZ=", "CRON_TZ=")):
        tz, _, rest = spec.partition(" ")
        spec = rest.strip()
        if not tz.partition("=")[2]:
            raise CronError(f"provided bad location {tz.partition('=')[2]}: unknown time zone")
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return
        if spec.startswith("@every "):
            dur = spec[len("@every ") :]
            if not _DURATION_RE.fullmatch(dur) or dur in ("", "."):
                raise CronError(f'failed to parse duration {spec}: time: invalid duration "{dur}"')
            return
        raise CronError(f"unrecognized descriptor: {spec}")
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for text, (lo, hi, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            _parse_range(part, lo, hi, names)


# -- Job --------------------------------------------------------------------------------------

_COMPLETION_MODES = ["NonIndexed", "Indexed"]


def validate_job_spec(spec: Any, path: str, template_only: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    errs += nonnegative(spec.parallelism, child(path, "parallelism"))
    errs += nonnegative(spec.completions, child(path, "completions"))
    errs += nonnegative(spec.activeDeadlineSeconds, child(path, "activeDeadlineSeconds"))
    errs += nonnegative(spec.backoffLimit, child(path, "backoffLimit"))
    errs += nonnegative(spec.ttlSecondsAfterFinished, child(path, "ttlSecondsAfterFinished"))
    errs += nonnegative(spec.backoffLimitPerIndex, child(path, "backoffLimitPerIndex"))
    errs += nonnegative(spec.maxFailedIndexes, child(path, "maxFailedIndexes"))
    mode = spec.completionMode
    if mode is not None and mode not in _COMPLETION_MODES:
        errs.append(not_supported(child(path, "completionMode"), mode, _COMPLETION_MODES))
    if mode == "Indexed":
        if spec.completions is None:
            errs.append(required(child(path, "completions"), "when completion mode is Indexed"))
        elif spec.parallelism is not None and spec.parallelism > 100000:
            errs.append(
                invalid_value(
                    child(path, "parallelism"),
                    spec.parallelism,
                    "must be less than or equal to 100000 when completion mode is Indexed",
                )
            )
    elif spec.backoffLimitPerIndex is not None:
        errs.append(
            required(
                child(path, "completionMode"),
                "when backoffLimitPerIndex is specified, completionMode must be Indexed",
            )
        )
    if spec.podReplacementPolicy is not None and spec.podReplacementPolicy not in (
        "TerminatingOrFailed",
        "Failed",
    ):
        errs.append(
            not_supported(
                child(path, "podReplacementPolicy"),
                spec.podReplacementPolicy,
                ["Failed", "TerminatingOrFailed"],
            )
        )
    sel_path = child(path, "selector")
    if spec.selector is None:
        if not template_only and spec.manualSelector:
            errs.append(required(sel_path, ""))
    else:
        errs += validate_label_selector(spec.selector, sel_path)
        if not selector_is_empty(spec.selector) and not selector_matches(
            spec.selector, spec.template.metadata.labels
        ):
            errs.append(
                invalid_value(
                    child(path, "template", "metadata", "labels"),
                    spec.template.metadata.labels,
                    "`selector` does not match template `labels`",
                )
            )
    tmpl_path = child(path, "template")
    errs += validate_pod_template_spec(spec.template, tmpl_path)
    rp = spec.template.spec.restartPolicy
    if rp not in ("OnFailure", "Never"):
        errs.append(not_supported(child(tmpl_path, "spec", "restartPolicy"), rp, ["OnFailure", "Never"]))
    if spec.podFailurePolicy is not None:
        if rp != "Never":
            errs.append(
                invalid_value(
                    child(tmpl_path, "spec", "restartPolicy"),
                    rp,
                    'only "Never" is supported when podFailurePolicy is specified',
                )
            )
        for i, rule in enumerate(spec.podFailurePolicy.rules):
            rp_path = child(path, "podFailurePolicy", "rules") + f"[{i}]"
            actions = ["Count", "FailIndex", "FailJob", "Ignore"]
            if rule.action not in actions:
                errs.append(not_supported(child(rp_path, "action"), rule.action, actions))
            if (rule.onExitCodes is None) == (not rule.onPodConditions):
                errs.append(
                    invalid_value(
                        rp_path, "", "specifying one of OnExitCodes and OnPodConditions is required"
                    )
                )
    return errs


def validate_job(job: Any) -> list[FieldError]:
    return validate_job_spec(job.spec, "spec")


def validate_job_update(new: Any, old: Any) -> list[FieldError]:
    errs = validate_job(new)
    if new.spec.selector != old.spec.selector:
        errs.append(invalid_value("spec.selector", plain(new.spec.selector), IMMUTABLE))
    if new.spec.completionMode != old.spec.completionMode:
        errs.append(invalid_value("spec.completionMode", new.spec.completionMode, IMMUTABLE))
    if new.spec.completions != old.spec.completions:
        elastic = new.spec.completionMode == "Indexed" and new.spec.completions == new.spec.parallelism
        if not elastic:
            errs.append(invalid_value("spec.completions", new.spec.completions, IMMUTABLE))
    if new.spec.podFailurePolicy != old.spec.podFailurePolicy:
        errs.append(invalid_value("spec.podFailurePolicy", plain(new.spec.podFailurePolicy), IMMUTABLE))
    if new.spec.template != old.spec.template:
        # A suspended job that never started may change its scheduling directives; nothing else.
        suspended_unstarted = bool(old.spec.suspend) and old.status.startTime is None
        if not (suspended_unstarted and _only_scheduling_changed(new.spec.template, old.spec.template)):
            errs.append(invalid_value("spec.template", plain(new.spec.template), IMMUTABLE))
    return errs


def _only_scheduling_changed(new: Any, old: Any) -> bool:
    import msgspec

    munged_spec = msgspec.structs.replace(
        new.spec,
        nodeSelector=old.spec.nodeSelector,
        affinity=old.spec.affinity,
        tolerations=old.spec.tolerations,
        schedulingGates=old.spec.schedulingGates,
    )
    munged_meta = msgspec.structs.replace(
        new.metadata, labels=old.metadata.labels, annotations=old.metadata.annotations
    )
    return msgspec.structs.replace(new, spec=munged_spec, metadata=munged_meta) == old


# -- CronJob ----------------------------------------------------------------------------------------


def validate_cron_job(cj: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(cj.metadata.name) > 52:
        errs.append(invalid_value("metadata.name", cj.metadata.name, "must be no more than 52 characters"))
    spec = cj.spec
    if not spec.schedule:
        errs.append(required("spec.schedule", ""))
    else:
        if "TZ" in spec.schedule:
            errs.append(
                invalid_value(
                    "spec.schedule",
                    spec.schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
        else:
            try:
                parse_schedule(spec.schedule)
            except CronError as e:
                errs.append(invalid_value("spec.schedule", spec.schedule, str(e)))
    if spec.timeZone is not None:
        errs += _validate_time_zone(spec.timeZone)
    errs += nonnegative(spec.startingDeadlineSeconds, "spec.startingDeadlineSeconds")
    policies = ["Allow", "Forbid", "Replace"]
    if not spec.concurrencyPolicy:
        errs.append(required("spec.concurrencyPolicy", ""))
    elif spec.concurrencyPolicy not in policies:
        errs.append(not_supported("spec.concurrencyPolicy", spec.concurrencyPolicy, policies))
    errs += nonnegative(spec.successfulJobsHistoryLimit, "spec.successfulJobsHistoryLimit")
    errs += nonnegative(spec.failedJobsHistoryLimit, "spec.failedJobsHistoryLimit")
    jt = spec.jobTemplate
    from kubelite.api.validation.common import validate_annotations, validate_labels

    errs += validate_labels(jt.metadata.labels, "spec.jobTemplate.metadata.labels")
    errs += validate_annotations(jt.metadata.annotations, "spec.jobTemplate.metadata.annotations")
    errs += validate_job_spec(jt.spec, "spec.jobTemplate.spec", template_only=True)
    if jt.spec.manualSelector:
        errs.append(invalid_value("spec.jobTemplate.spec.manualSelector", True, "true is not supported"))
    return errs


def _validate_time_zone(tz: str) -> list[FieldError]:
    if tz in ("Local", "") or tz.strip() != tz:
        return [invalid_value("spec.timeZone", tz, "unknown time zone " + tz)]
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(tz)
    except (ValueError, KeyError, OSError):
        return [invalid_value("spec.timeZone", tz, "unknown time zone " + tz)]
    except ImportError:  # pragma: no cover
        return []
    return []


def validate_cron_job_update(new: Any, old: Any) -> list[FieldError]:
    return validate_cron_job(new)


__all__ = ["forbidden"]
