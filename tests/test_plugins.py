"""The plug-in loader's checks, with entry points faked (nothing installed): a plug-in is found
under its explicit name, and a clash, a name that differs from its registration, a missing name or
something that is not a plug-in of the kind stops start-up with a configuration error."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import ClassVar

import httpx
import pytest

import tutela.plugins
from tutela.db import Database
from tutela.errors import ConfigurationError
from tutela.messaging.transports import (
    OutgoingMessage,
    SendResult,
    Transport,
    TransportContext,
    create_transports,
    transport_classes,
)
from tutela.plugins import load_plugins
from tutela.settings import Settings
from tutela.signals.base import SignalType, hamming_hex
from tutela.signals.registry import get_signal_type, signal_types

SIGNALS = "tutela.signal_types"
TRANSPORTS = "tutela.report_transports"


class FakeSignal(SignalType):
    name: ClassVar[str] = "fake"
    hex_length: ClassVar[int] = 8

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(a, b)


class OtherFakeSignal(FakeSignal):
    """A second class that claims the name `fake`: a clash with FakeSignal."""


class UnnamedSignal(SignalType):
    hex_length: ClassVar[int] = 8

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(a, b)


class FakeTransport(Transport):
    name: ClassVar[str] = "pigeon"

    @classmethod
    def create(cls, context: TransportContext) -> FakeTransport:
        return cls()

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(status="delivered")


class OtherFakeTransport(FakeTransport):
    """Also `pigeon`."""


def not_a_class() -> None:
    """An entry point may name any object; a function is no plug-in."""


def point(name: str, target: str, group: str = SIGNALS) -> EntryPoint:
    """A real EntryPoint naming an object of this module, as an installed package's would."""
    return EntryPoint(name=name, value=f"{__name__}:{target}", group=group)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """The entry points the loader sees: whatever the test puts in this list, and nothing else.
    The signal-type registry's per-process cache is emptied before and after."""
    points: list[EntryPoint] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [p for p in points if p.group == group]

    monkeypatch.setattr(tutela.plugins, "entry_points", entry_points)
    signal_types.cache_clear()
    yield points
    signal_types.cache_clear()


def test_plugin_is_found_under_its_registered_name(installed: list[EntryPoint]) -> None:
    installed += [point("fake", "FakeSignal"), point("pigeon", "FakeTransport", TRANSPORTS)]
    assert load_plugins(SIGNALS, SignalType, "signal type") == {"fake": FakeSignal}
    assert load_plugins(TRANSPORTS, Transport, "report transport") == {"pigeon": FakeTransport}


def test_only_the_asked_group_is_loaded(installed: list[EntryPoint]) -> None:
    # A transport's entry point in its own group is not a signal type, and is never even loaded.
    installed += [point("fake", "FakeSignal"), point("pigeon", "no_such_object", TRANSPORTS)]
    assert load_plugins(SIGNALS, SignalType, "signal type") == {"fake": FakeSignal}


def test_two_classes_registering_one_name_stop_start_up(installed: list[EntryPoint]) -> None:
    installed += [point("fake", "FakeSignal"), point("fake", "OtherFakeSignal")]
    with pytest.raises(ConfigurationError, match="two plug-ins register the signal type 'fake'"):
        load_plugins(SIGNALS, SignalType, "signal type")


def test_the_same_class_registered_twice_is_no_clash(installed: list[EntryPoint]) -> None:
    # E.g. one distribution visible twice on the path: the same class, found twice.
    installed += [point("fake", "FakeSignal"), point("fake", "FakeSignal")]
    assert load_plugins(SIGNALS, SignalType, "signal type") == {"fake": FakeSignal}


def test_a_name_that_differs_from_the_registration_stops_start_up(
    installed: list[EntryPoint],
) -> None:
    # The class's name is the storage key; an entry point may not rename it.
    installed.append(point("renamed", "FakeSignal"))
    with pytest.raises(
        ConfigurationError,
        match="signal type FakeSignal is named 'fake' but registered as 'renamed'",
    ):
        load_plugins(SIGNALS, SignalType, "signal type")


def test_a_plugin_without_a_name_stops_start_up(installed: list[EntryPoint]) -> None:
    installed.append(point("unnamed", "UnnamedSignal"))
    with pytest.raises(ConfigurationError, match="named None but registered as 'unnamed'"):
        load_plugins(SIGNALS, SignalType, "signal type")


@pytest.mark.parametrize("target", ["FakeTransport", "not_a_class"])
def test_something_that_is_not_a_plugin_of_the_kind_stops_start_up(
    installed: list[EntryPoint], target: str
) -> None:
    installed.append(point("fake", target))
    with pytest.raises(ConfigurationError, match=f"entry point .*:{target} is not a signal type"):
        load_plugins(SIGNALS, SignalType, "signal type")


def test_signal_registry_refuses_a_clash(installed: list[EntryPoint]) -> None:
    installed += [point("fake", "FakeSignal"), point("fake", "OtherFakeSignal")]
    with pytest.raises(ConfigurationError, match="two plug-ins register"):
        get_signal_type("fake")


def test_signal_registry_finds_a_third_party_signal_type(installed: list[EntryPoint]) -> None:
    installed.append(point("fake", "FakeSignal"))
    assert get_signal_type("fake") is FakeSignal


def test_transport_registry_refuses_a_clash(installed: list[EntryPoint]) -> None:
    installed += [
        point("pigeon", "FakeTransport", TRANSPORTS),
        point("pigeon", "OtherFakeTransport", TRANSPORTS),
    ]
    with pytest.raises(
        ConfigurationError, match="two plug-ins register the report transport 'pigeon'"
    ):
        transport_classes()


def test_transport_registry_refuses_a_renamed_transport(installed: list[EntryPoint]) -> None:
    installed.append(point("carrier", "FakeTransport", TRANSPORTS))
    with pytest.raises(ConfigurationError, match="named 'pigeon' but registered as 'carrier'"):
        transport_classes()


def test_transports_are_created_by_registered_name_and_unknown_ones_named(
    installed: list[EntryPoint], database: Database
) -> None:
    installed.append(point("pigeon", "FakeTransport", TRANSPORTS))
    with httpx.Client() as client:
        context = TransportContext(Settings(), database, client)
        (created,) = create_transports(["pigeon"], context).values()
        assert isinstance(created, FakeTransport)
        with pytest.raises(
            ConfigurationError, match=r"unknown report transport 'owl' \(known: pigeon\)"
        ):
            create_transports(["owl"], context)
