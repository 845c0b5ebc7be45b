"""The root-cause verifier on recorded traces: blame, too few traces, missing traces."""

from __future__ import annotations

from fixtures.traces import slow_trace

from gameday.evidence.model import SpanEvidence
from gameday.evidence.testing import EvidenceBuilder
from gameday.scenario.expectations import RootCauseExpectation
from gameday.verifiers.base import Check
from gameday.verifiers.root_cause import RootCauseVerifier

SCENARIO = """
name: latency
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 800}}
expect:
  - root_cause: {service: feature-store, span: feature_store.get, min_share: 0.8}
  - root_cause: {service: feature-store, min_traces: 50}
"""


def evidence(blaming: dict[str, int], missing: int = 0) -> EvidenceBuilder:
    b = EvidenceBuilder(SCENARIO)
    n = 0
    for culprit, count in blaming.items():
        for _ in range(count):
            b.trace(f"{n:032x}", slow_trace(culprit))
            n += 1
    for _ in range(missing):
        b.trace(f"{n:032x}", None)
        n += 1
    return b


def check(b: EvidenceBuilder, index: int = 0) -> Check:
    exp = b.scenario.expect[index]
    assert isinstance(exp, RootCauseExpectation)
    return RootCauseVerifier().check(exp, b.build())


def test_traces_blaming_the_expected_span_pass_with_its_share() -> None:
    result = check(evidence({"feature-store": 27, "model-server": 3}))
    assert result.passed, result.detail
    assert result.extra["share"] == 0.9


def test_traces_blaming_another_component_fail() -> None:
    result = check(evidence({"feature-store": 5, "model-server": 25}))
    assert not result.passed and result.decided
    assert "blame model-server/model.predict first" in result.detail


def test_a_share_under_min_share_fails_even_with_the_culprit_on_top() -> None:
    result = check(evidence({"feature-store": 15, "model-server": 10}))
    assert not result.passed and result.decided and "60% (need 80%)" in result.detail


def test_fewer_traces_than_min_traces_are_undecided() -> None:
    one = check(evidence({"feature-store": 1}))
    assert not one.passed and not one.decided and "only 1 traces analysed (need 20)" in one.detail
    assert not check(evidence({"feature-store": 40}), 1).decided  # min_traces: 50


def test_mostly_missing_traces_are_undecided_and_counted() -> None:
    result = check(evidence({"feature-store": 20}, missing=25))
    assert not result.passed and not result.decided
    assert "25 of 45 traces" in result.detail


def test_some_missing_traces_are_said_beside_the_verdict() -> None:
    result = check(evidence({"feature-store": 25}, missing=3))
    assert result.passed and "3 trace(s) missing from the backend" in result.detail
    assert result.evidence["traces_missing"] == 3


def test_no_trace_backend_or_no_slow_request_is_undecided() -> None:
    assert not check(EvidenceBuilder(SCENARIO)).decided


PLATFORM = """
name: shared-store-latency
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.latency, target: feature-store, params: {latency_ms: 800}}
expect:
  - root_cause: {service: feature-store, min_share: 0.8, per_entry: true}
  - root_cause: {service: feature-store, min_share: 0.8}
"""


def platform(blaming: dict[str, dict[str, int]]) -> EvidenceBuilder:
    """Slow traces entering by each model's own service: ``{model: {culprit: count}}``; a
    model's own time counts against its service, the shared store's against feature-store."""
    b = EvidenceBuilder(PLATFORM)
    n = 0
    for model, culprits in blaming.items():
        for culprit, count in culprits.items():
            spans = slow_trace("feature-store" if culprit == "feature-store" else "model-server")
            for _ in range(count):
                b.trace(f"{n:032x}", [renamed(s, model) for s in spans])
                n += 1
    return b


def renamed(span: SpanEvidence, model: str) -> SpanEvidence:
    return span.model_copy(update={"service": model}) if span.service == "model-server" else span


def test_per_entry_passes_when_every_model_blames_the_shared_store() -> None:
    b = platform({"fraud-model": {"feature-store": 19, "own": 1},
                  "ranking-model": {"feature-store": 18, "own": 2}})  # fmt: skip
    result = check(b, 0)
    assert result.passed, result.detail
    assert "per entry service: fraud-model 95% of 20, ranking-model 90% of 20" in result.detail
    assert result.evidence["by_entry"] == {
        "fraud-model": {"analysed": 20, "share": 0.95},
        "ranking-model": {"analysed": 20, "share": 0.9},
    }


def test_per_entry_fails_naming_the_model_whose_traces_blame_itself() -> None:
    # 85% overall: the shared store on top, over min_share, yet ranking's own slowness is half
    # of its slow traces: a second incident hiding under the shared one.
    b = platform({"fraud-model": {"feature-store": 30},
                  "personalization-model": {"feature-store": 30},
                  "ranking-model": {"feature-store": 8, "own": 8}})  # fmt: skip
    overall = check(b, 1)
    assert overall.passed, overall.detail
    assert "ranking-model 50% of 16" in overall.detail  # the breakdown is shown either way
    result = check(b, 0)
    assert not result.passed and result.decided
    assert "below 80% for ranking-model" in result.detail


def test_per_entry_with_no_model_over_five_traces_is_undecided() -> None:
    b = platform({f"m{i}-model": {"feature-store": 4} for i in range(6)})
    result = check(b, 0)
    assert not result.decided and "no entry service has 5 analysed traces" in result.detail
