"""The event correlator: identical repeats within ten minutes become count bumps."""

from __future__ import annotations

import msgspec

from kubelite.api.core_v1 import ConfigMap, Event, EventSource, ObjectReference
from kubelite.api.meta import ObjectMeta
from kubelite.client.clock import FakeClock
from kubelite.client.events import EventCorrelator, object_reference, rfc3339


def _event(name: str, message: str = "m", reason: str = "R", ts: str = "t0") -> Event:
    return Event(
        metadata=ObjectMeta(name=name, namespace="ns"),
        involvedObject=ObjectReference(kind="Pod", namespace="ns", name="p", uid="u1", apiVersion="v1"),
        reason=reason,
        message=message,
        source=EventSource(component="test"),
        firstTimestamp=ts,
        lastTimestamp=ts,
        count=1,
        type="Normal",
    )


def test_repeats_are_patches_of_the_first_event() -> None:
    clock = FakeClock()
    corr = EventCorrelator(clock)
    first = corr.correlate(_event("p.1", ts="t0"))
    assert not first.patch and first.event.count == 1
    clock.advance(60)
    second = corr.correlate(_event("p.2", ts="t1"))
    assert second.patch
    assert second.event.metadata.name == "p.1"
    assert second.event.count == 2
    assert second.event.firstTimestamp == "t0"
    assert second.event.lastTimestamp == "t1"
    third = corr.correlate(_event("p.3", ts="t2"))
    assert third.patch and third.event.count == 3


def test_different_message_or_reason_is_a_new_event() -> None:
    corr = EventCorrelator(FakeClock())
    assert not corr.correlate(_event("a", message="one")).patch
    assert not corr.correlate(_event("b", message="two")).patch
    assert not corr.correlate(_event("c", message="one", reason="Other")).patch
    assert corr.correlate(_event("d", message="one")).patch


def test_after_the_window_a_new_event_is_created() -> None:
    clock = FakeClock()
    corr = EventCorrelator(clock)
    corr.correlate(_event("a"))
    clock.advance(601)
    fresh = corr.correlate(_event("b"))
    assert not fresh.patch and fresh.event.metadata.name == "b" and fresh.event.count == 1


def test_forget_starts_afresh() -> None:
    corr = EventCorrelator(FakeClock())
    ev = _event("a")
    corr.correlate(ev)
    corr.forget(ev)
    assert not corr.correlate(_event("b")).patch


def test_object_reference_of_typed_objects_without_kind() -> None:
    cm = ConfigMap(metadata=ObjectMeta(name="c", namespace="ns", uid="u", resourceVersion="7"))
    ref = object_reference(cm)
    assert msgspec.to_builtins(ref) == {
        "kind": "ConfigMap",
        "namespace": "ns",
        "name": "c",
        "uid": "u",
        "apiVersion": "v1",
        "resourceVersion": "7",
    }
    assert object_reference({"kind": "Node", "apiVersion": "v1", "metadata": {"name": "n"}}).name == "n"
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
