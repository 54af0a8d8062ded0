"""Config problems are worded from their structure: every kind of mismatch, every field."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import msgspec
import pytest
from msgspec import Meta

from supervisord_lite import (
    config,
    config_attributes,
    config_hooks,
    config_probes,
    config_restarts,
    config_sockets,
    config_webhooks,
    config_wording,
)

Bounded = Annotated[int, Meta(ge=1, le=9)]
Open = Annotated[float, Meta(gt=0, lt=1)]


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("x", int, ("", "expected an integer, got a string")),
        (1.5, int, ("", "expected an integer, got a number")),
        (True, int, ("", "expected an integer, got a boolean")),
        ("1", float, ("", "expected a number, got a string")),
        (False, float, ("", "expected a number, got a boolean")),
        (1, str, ("", "expected a string, got an integer")),
        (1, bool, ("", "expected a boolean, got an integer")),
        ({}, str, ("", "expected a string, got a table")),
        ([], str, ("", "expected a string, got an array")),
        (datetime.date(2026, 1, 1), int, ("", "expected an integer, got a date")),
        (datetime.datetime(2026, 1, 1), int, ("", "expected an integer, got a date-time")),
        (datetime.time(1, 2), int, ("", "expected an integer, got a time")),
        (0, Bounded, ("", "must be >= 1")),
        (10, Bounded, ("", "must be <= 9")),
        (0.0, Open, ("", "must be > 0")),
        (1, Open, ("", "must be < 1")),
        (0o1000, Annotated[int, Meta(le=0o777)], ("", "must be <= 511")),
        ("", Annotated[str, Meta(min_length=1)], ("", "must not be empty")),
        ("ab", Annotated[str, Meta(min_length=3)], ("", "length must be >= 3")),
        ("abcd", Annotated[str, Meta(max_length=3)], ("", "length must be <= 3")),
        ([], Annotated[tuple[str, ...], Meta(min_length=1)], ("", "must not be empty")),
        (3, tuple[int, ...], ("", "expected an array, got an integer")),
        ([1, "x"], tuple[int, ...], ("[1]", "expected an integer, got a string")),
        ([1, 0], tuple[Bounded, ...], ("[1]", "must be >= 1")),
        ([], dict[str, str], ("", "expected a table, got an array")),
        ({"A": 1}, dict[str, str], (".A", "expected a string, got an integer")),
        ({"a b": 1}, dict[str, str], ('["a b"]', "expected a string, got an integer")),
        (3, Bounded | None, None),
        (0, Bounded | None, ("", "must be >= 1")),
        ("x", Bounded | None, ("", "expected an integer, got a string")),
        ("c", Literal["a", "b"], ("", "must be one of 'a', 'b', got 'c'")),
        (1, Literal["a", "b"], ("", "expected a string, got an integer")),
    ],
)
def test_every_kind_of_mismatch_is_worded(value: object, tp: Any, expected: object) -> None:
    assert config_wording.explain(value, tp) == expected


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (None, int | None),
        (3, int),
        (3, float),
        (2.5, float),
        ("a", Literal["a", "b"]),
        ([1, 2], tuple[int, ...]),
        ({"A": "b"}, dict[str, str]),
        (5, Bounded),
    ],
)
def test_values_that_fit_have_nothing_to_explain(value: object, tp: Any) -> None:
    assert config_wording.explain(value, tp) is None


def test_octal_bounds_are_shown_as_modes_are_written() -> None:
    tp = Annotated[int, Meta(ge=0, le=0o777)]
    assert config_wording.explain(0o1000, tp, octal=True) == ("", "must be <= 0o777")


def test_numbers_are_shown_as_written() -> None:
    assert config_wording.number(10.0) == "10"
    assert config_wording.number(0.5) == "0.5"
    assert config_wording.number(0, octal=True) == "0"


TABLES = [
    config.DaemonConfig,
    config.MetricsConfig,
    config.AccessConfig,
    config.AccessGrant,
    config.ProgramConfig,
    config.LogConfig,
    config.Backoff,
    config.StartLimit,
    config_probes.ReadyProbe,
    config_probes.LivenessProbe,
    config.ProgressConfig,
    config_restarts.PermafailConfig,
    config_restarts.RestartWhen,
    config_sockets.SocketConfig,
    config_hooks.Hook,
    config_attributes.IoNice,
    config_attributes.RLimit,
    config_attributes.Capabilities,
    config_webhooks.WebhookConfig,
]
NESTED = (
    config.Backoff,
    config.MetricsConfig,
    config.AccessConfig,
    config.AccessGrant,
    config.LogConfig,
    config.StartLimit,
    config_probes.ReadyProbe | None,
    config_probes.LivenessProbe | None,
    config.ProgressConfig | None,
    config_restarts.PermafailConfig | None,
    config_restarts.RestartWhen,
    tuple[config_sockets.SocketConfig, ...],
    config_hooks.Hook | None,
    config_attributes.IoNice | None,
    dict[str, config_attributes.RLimit],
    config_attributes.Capabilities | None,
)


@pytest.mark.parametrize("cls", TABLES)
def test_every_config_field_has_an_annotation_the_wording_understands(cls: type) -> None:
    for field in msgspec.structs.fields(cls):
        if field.type in NESTED:
            continue
        assert config_wording.understands(field.type), f"{cls.__name__}.{field.name}"


def test_a_fitting_value_also_converts() -> None:
    # explain() and msgspec.convert agree on every default of every config field.
    for cls in TABLES:
        for field in msgspec.structs.fields(cls):
            if field.default is msgspec.NODEFAULT or field.type in NESTED:
                continue
            plain = msgspec.to_builtins(field.default)
            assert config_wording.explain(plain, field.type) is None
            msgspec.convert(plain, field.type)
