"""Plug-in registries (built-in modules, entry points, load-time checks) and the verifier seam."""

from __future__ import annotations

import importlib
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fixtures.plugins import (
    FakeFlag,
    LatencyInjector,
    QueueDepthExpectation,
    QueueDepthVerifier,
    loader_injectors,
)

from gameday import registry
from gameday.evidence.model import RunEvidence
from gameday.evidence.testing import EvidenceBuilder
from gameday.registry import PluginError, UnknownName, load_injectors, load_verifiers
from gameday.scenario.expectations import AlertExpectation, Expectation
from gameday.verifiers.base import Check, Verifier, verify


def ep(name: str, value: str, group: str = "gameday.injectors") -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder on sys.path where a test writes throwaway modules."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, source: str) -> str:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        return module

    return write


def test_unknown_name_lists_sorted_known_names_with_a_suggestion():
    with pytest.raises(UnknownName) as info:
        loader_injectors().get("network.latncy")
    assert str(info.value) == (
        "unknown injector 'network.latncy'; known: custom.flag, data.null_column, network.down, "
        "network.latency, process.kill (did you mean 'network.latency'?)"
    )
    assert info.value.known == loader_injectors().names()


def test_builtin_module_that_does_not_exist_yet_is_skipped():
    reg = load_injectors(modules=("gameday.injectors.does_not_exist_yet",), entry_points=[])
    assert len(reg) == 0


def test_import_error_inside_an_existing_builtin_module_surfaces_loudly(plugin_dir):
    module = plugin_dir("gd_broken_builtin", "import gd_no_such_dependency\nINJECTORS = ()\n")
    with pytest.raises(
        PluginError,
        match=r"built-in module gd_broken_builtin failed to import.*gd_no_such_dependency",
    ):
        load_injectors(modules=(module,), entry_points=[])


def test_builtin_module_must_export_its_tuple(plugin_dir):
    module = plugin_dir("gd_no_tuple", "X = 1\n")
    with pytest.raises(PluginError, match="must export INJECTORS"):
        load_injectors(modules=(module,), entry_points=[])


def test_builtin_modules_register_their_tuple(plugin_dir):
    module = plugin_dir(
        "gd_good_builtin",
        "from fixtures.plugins import LatencyInjector, DownInjector\n"
        "INJECTORS = (LatencyInjector, DownInjector)\n",
    )
    reg = load_injectors(modules=(module,), entry_points=[])
    assert reg.names() == ["network.down", "network.latency"]
    assert reg.get("network.latency") is LatencyInjector
    assert reg.origin("network.down") == "built-in module gd_good_builtin"


def test_third_party_injector_is_loaded_from_its_entry_point():
    reg = load_injectors(modules=(), entry_points=[ep("custom.flag", "fixtures.plugins:FakeFlag")])
    assert reg.get("custom.flag") is FakeFlag
    assert "entry point 'custom.flag'" in reg.origin("custom.flag")


def test_process_wide_registries_load_installed_plugins_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A plug-in installed the usual way (a distribution's entry points) joins the built-ins."""
    dist = tmp_path / "acme_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[gameday.injectors]\ncustom.flag = fixtures.plugins:FakeFlag\n\n"
        "[gameday.verifiers]\nqueue_depth = fixtures.plugins:QueueDepthVerifier\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.injectors.cache_clear()
    registry.verifiers.cache_clear()
    try:
        assert registry.injectors() is registry.injectors()
        assert registry.injectors().get("custom.flag") is FakeFlag
        assert "network.latency" in registry.injectors()
        assert registry.verifiers().get("queue_depth") is QueueDepthVerifier
        assert "acme-plugins" in registry.injectors().origin("custom.flag")
    finally:
        registry.injectors.cache_clear()
        registry.verifiers.cache_clear()


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("X = 1", "is not a subclass of gameday.injectors.base.Injector"),
        ("class X:\n    name = 'a.b'", "is not a subclass"),
        (
            "from gameday.injectors.base import Injector\nclass X(Injector):\n    name = 'a.b'",
            "X is abstract (implement apply, revert)",
        ),
        (
            "from fixtures.plugins import FakeFlag\nclass X(FakeFlag):\n    name = 'NoDots'",
            "does not match",
        ),
        (
            "from fixtures.plugins import FakeFlag\n"
            "class X(FakeFlag):\n    params = ('latency_ms',)",
            "params must be a tuple of",
        ),
        ("raise RuntimeError('boom at import')", "failed to load: RuntimeError: boom at import"),
    ],
)
def test_malformed_third_party_injector_is_refused_at_load_time(plugin_dir, source, fragment):
    module = plugin_dir(f"gd_plugin_{abs(hash(source))}", source + "\n")
    with pytest.raises(PluginError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_injectors(modules=(), entry_points=[ep("a.b", f"{module}:X")])


def test_entry_point_name_must_equal_the_plugin_name():
    with pytest.raises(PluginError, match=r"must equal FakeFlag.name \('custom.flag'\)"):
        load_injectors(modules=(), entry_points=[ep("custom.flg", "fixtures.plugins:FakeFlag")])


def test_third_party_may_not_take_a_builtin_name(plugin_dir):
    with pytest.raises(PluginError, match=r"'network\.latency' is reserved for gameday"):
        load_injectors(
            modules=(), entry_points=[ep("network.latency", "fixtures.plugins:LatencyInjector")]
        )
    module = plugin_dir(
        "gd_flag_builtin", "from fixtures.plugins import FakeFlag\nINJECTORS = (FakeFlag,)\n"
    )
    with pytest.raises(
        PluginError, match="clashes with the one from built-in module gd_flag_builtin"
    ):
        load_injectors(
            modules=(module,), entry_points=[ep("custom.flag", "fixtures.plugins:FakeFlag")]
        )


def test_verifier_spec_must_be_an_expectation_of_the_same_kind(plugin_dir):
    module = plugin_dir(
        "gd_bad_verifiers",
        """
        from fixtures.plugins import QueueDepthVerifier, QueueDepthExpectation
        from gameday.scenario.expectations import SloExpectation
        class WrongKind(QueueDepthVerifier):
            kind = "other_kind"
        class NotASpec(QueueDepthVerifier):
            spec = dict
        class BuiltinKindOtherSpec(QueueDepthVerifier):
            kind = "slo"
            class spec(QueueDepthExpectation):
                kind = "slo"
        """,
    )
    cases = {
        "WrongKind": "spec QueueDepthExpectation.kind is 'queue_depth', not 'other_kind'",
        "NotASpec": "spec must be a subclass of gameday.scenario.expectations.Expectation",
        "BuiltinKindOtherSpec": "the spec of the built-in kind 'slo' must be SloExpectation",
    }
    plugins = importlib.import_module(module)
    for cls, fragment in cases.items():
        with pytest.raises(PluginError, match=fragment):
            load_verifiers(modules=(), entry_points=[]).register(
                getattr(plugins, cls), origin="test"
            )


def test_third_party_verifier_may_not_take_a_builtin_expectation_kind():
    reg = load_verifiers(modules=(), entry_points=[])
    with pytest.raises(PluginError, match="'alert' is reserved"):
        reg.register(_AlertVerifier, origin="entry point", builtin=False)


class _AlertVerifier(Verifier):
    kind: ClassVar[str] = "alert"
    spec = AlertExpectation

    def check(self, expectation: Expectation, evidence: RunEvidence) -> Check:
        return Check("alert", expectation.title, passed=True, detail="fired")


# -- the verifier seam ---------------------------------------------------------------------


def test_undecided_check_can_never_pass():
    with pytest.raises(ValueError, match="an undecided check cannot pass"):
        Check("alert", "x", passed=True, detail="?", decided=False)
    assert Check.undecided("alert", "x", "no data").passed is False


def test_check_json_merges_extra_keys():
    check = Check(
        "alert",
        "X fires",
        True,
        "fired after 12 s",
        {"fired_at": 3.0},
        extra={"detected_after_s": 12.0},
    )
    assert check.to_json() == {
        "kind": "alert",
        "name": "X fires",
        "passed": True,
        "detail": "fired after 12 s",
        "evidence": {"fired_at": 3.0},
        "decided": True,
        "detected_after_s": 12.0,
    }
    with pytest.raises(ValueError, match="overwrite"):
        Check("alert", "x", True, "d", extra={"passed": False})


def _evidence() -> RunEvidence:
    """A run's evidence, for verifiers that do not read it."""
    return EvidenceBuilder("name: any\nexpect:\n  - {alert: X, silent: true}\n").build()


def test_verify_turns_an_exception_into_a_failed_undecided_check():
    class Exploding(QueueDepthVerifier):
        def check(self, expectation: Expectation, evidence: RunEvidence) -> Check:
            raise RuntimeError("prometheus unreachable")

    spec = QueueDepthExpectation(queue="q", below=1)
    check = verify(Exploding(), spec, _evidence())
    assert (check.passed, check.decided, check.kind, check.name) == (
        False,
        False,
        "queue_depth",
        "queue q stays below 1",
    )
    assert "RuntimeError: prometheus unreachable" in check.detail


def test_verify_refuses_a_non_check_answer_and_passes_real_checks_through():
    class Sloppy(QueueDepthVerifier):
        def check(self, expectation: Expectation, evidence: RunEvidence) -> Any:
            return True

    spec = QueueDepthExpectation(queue="q", below=1)
    assert verify(Sloppy(), spec, _evidence()).passed is False
    assert verify(QueueDepthVerifier(), spec, _evidence()).passed is True
    silent = AlertExpectation(alert="X", silent=True)
    assert verify(_AlertVerifier(), silent, _evidence()).detail == "fired"


def test_the_real_latency_injector_registers_cleanly():
    assert (
        load_injectors(modules=(), entry_points=[]).register(LatencyInjector, origin="t")
        is LatencyInjector
    )
