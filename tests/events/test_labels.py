"""Enum labels: members of different enums with the same value keep their own label (the enums are str)."""

from __future__ import annotations

from app.events.models import (
    Audience,
    EventCategory,
    EventStatus,
    Frequency,
    OccurrenceStatus,
    RegistrationStatus,
)


def test_equal_values_of_different_enums_keep_their_own_labels(app_ctx):
    assert str(EventCategory.CHILDREN.label) == "子ども・子育て"
    assert str(Audience.CHILDREN.label) == "子ども"
    assert str(EventStatus.CANCELLED.label) == "中止"
    assert str(OccurrenceStatus.CANCELLED.label) == "中止"
    assert str(RegistrationStatus.CANCELLED.label) == "取消済み"
    for enum_class in (EventCategory, Audience, Frequency, EventStatus, OccurrenceStatus, RegistrationStatus):
        assert all(str(member.label) for member in enum_class)
