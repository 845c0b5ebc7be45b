"""Critical path, self time and blame on synthetic traces, including bad data."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from gameday.analysis.critical_path import (
    SYNTHETIC_ROOT,
    Blame,
    aggregate,
    blame,
    critical_path,
    self_times,
)
from gameday.telemetry.spans import SPAN_KIND_CLIENT, Span, Trace

TRACE = "ab" * 16


def span(
    sid: str,
    parent: str | None,
    start: int,
    end: int,
    service: str = "svc",
    name: str | None = None,
    error: bool = False,
    **kw: Any,
) -> Span:
    return Span(TRACE, sid, parent, name or sid, service, start, end, error=error, **kw)


def trace(*spans: Span) -> Trace:
    return Trace(TRACE, spans)


def owners(t: Trace | list[Span]) -> list[tuple[str, int, int]]:
    return [(seg.name, seg.start_ns, seg.end_ns) for seg in critical_path(t)]


def assert_tiles(t: Trace | list[Span], start: int, end: int) -> None:
    """Segments are contiguous, in order, and cover exactly [start, end]."""
    path = critical_path(t)
    assert sum(s.duration_ns for s in path) == end - start
    if path:
        assert path[0].start_ns == start
        assert path[-1].end_ns == end
    for a, b in itertools.pairwise(path):
        assert a.end_ns == b.start_ns


# --- the walk --------------------------------------------------------------------------


def test_sequential_children_each_own_their_interval_and_gaps_are_parent_self_time():
    t = trace(span("r", None, 0, 100), span("a", "r", 10, 40), span("b", "r", 50, 90))
    assert owners(t) == [("r", 0, 10), ("a", 10, 40), ("r", 40, 50), ("b", 50, 90), ("r", 90, 100)]


def test_back_to_back_children_are_both_on_the_path():
    t = trace(span("r", None, 0, 20), span("a", "r", 0, 10), span("b", "r", 10, 20))
    assert owners(t) == [("a", 0, 10), ("b", 10, 20)]


def test_concurrent_children_only_the_last_finishing_is_critical():
    t = trace(span("r", None, 0, 100), span("fast", "r", 10, 60), span("slow", "r", 10, 90))
    assert owners(t) == [("r", 0, 10), ("slow", 10, 90), ("r", 90, 100)]
    assert ("svc", "fast") not in self_times(t)


def test_equal_end_children_the_longer_one_is_critical():
    t = trace(span("r", None, 0, 100), span("short", "r", 50, 90), span("long", "r", 10, 90))
    assert owners(t) == [("r", 0, 10), ("long", 10, 90), ("r", 90, 100)]


def test_nested_children_are_walked_recursively():
    t = trace(
        span("r", None, 0, 100),
        span("c", "r", 10, 90),
        span("s", "c", 20, 80),
        span("q", "s", 30, 70),
    )
    assert owners(t) == [
        ("r", 0, 10),
        ("c", 10, 20),
        ("s", 20, 30),
        ("q", 30, 70),
        ("s", 70, 80),
        ("c", 80, 90),
        ("r", 90, 100),
    ]


def test_overlapping_sibling_still_running_when_the_critical_child_starts_is_off_path():
    """CRISP's happens-before rule: only a sibling that ended before the critical one started
    can have delayed it; the rest of the wait is the parent's own."""
    t = trace(span("r", None, 0, 100), span("a", "r", 10, 60), span("b", "r", 40, 90))
    assert owners(t) == [("r", 0, 40), ("b", 40, 90), ("r", 90, 100)]


def test_fan_out_then_join_follows_the_chain_backwards():
    t = trace(
        span("r", None, 0, 100),
        span("f1", "r", 5, 30),
        span("f2", "r", 5, 45),
        span("f3", "r", 5, 20),
        span("predict", "r", 50, 95),
    )
    assert owners(t) == [
        ("r", 0, 5),
        ("f2", 5, 45),
        ("r", 45, 50),
        ("predict", 50, 95),
        ("r", 95, 100),
    ]


def test_zero_duration_spans_own_no_time_and_do_not_break_the_walk():
    t = trace(
        span("r", None, 0, 10), span("z", "r", 10, 10), span("y", "r", 5, 5), span("a", "r", 2, 8)
    )
    assert owners(t) == [("r", 0, 2), ("a", 2, 8), ("r", 8, 10)]
    assert_tiles(t, 0, 10)


def test_zero_duration_root_has_an_empty_path():
    assert critical_path(trace(span("r", None, 5, 5))) == []
    assert blame(trace(span("r", None, 5, 5))) is None


def test_path_segments_carry_service_kind_and_span_id():
    t = trace(
        span("r", None, 0, 10, service="model-server", name="POST /predict", kind=SPAN_KIND_CLIENT)
    )
    (seg,) = critical_path(t)
    assert (seg.span_id, seg.service, seg.name, seg.kind) == (
        "r",
        "model-server",
        "POST /predict",
        SPAN_KIND_CLIENT,
    )


# --- clock skew and clamping -----------------------------------------------------------


def test_same_service_child_outliving_its_parent_is_clamped():
    t = trace(span("r", None, 0, 100), span("async", "r", 50, 150))
    assert owners(t) == [("r", 0, 50), ("async", 50, 100)]


def test_same_service_child_starting_before_its_parent_is_clamped():
    t = trace(span("r", None, 10, 100), span("early", "r", 0, 40))
    assert owners(t) == [("early", 10, 40), ("r", 40, 100)]


def test_skewed_server_span_is_shifted_into_its_client_span_with_its_subtree():
    """Another service's clock is 15 ns ahead: shift keeps its duration instead of cutting it."""
    t = trace(
        span("r", None, 0, 100, service="a"),
        span("client", "r", 10, 50, service="a"),
        span("server", "client", 30, 65, service="b"),
        span("query", "server", 40, 60, service="b"),
    )
    assert owners(t) == [
        ("r", 0, 10),
        ("client", 10, 15),
        ("server", 15, 25),
        ("query", 25, 45),
        ("server", 45, 50),
        ("r", 50, 100),
    ]


def test_skewed_span_before_its_parent_is_shifted_forward():
    t = trace(span("r", None, 100, 200, service="a"), span("s", "r", 50, 120, service="b"))
    assert owners(t) == [("s", 100, 170), ("r", 170, 200)]


def test_cross_service_child_longer_than_its_parent_is_clamped():
    t = trace(
        span("r", None, 0, 100, service="a"),
        span("c", "r", 10, 50, service="a"),
        span("s", "c", 0, 200, service="b"),
    )
    assert owners(t) == [("r", 0, 10), ("s", 10, 50), ("r", 50, 100)]


def test_child_entirely_outside_its_parent_owns_no_time():
    t = trace(span("r", None, 0, 100), span("late", "r", 300, 400))
    assert owners(t) == [("r", 0, 100)]


# --- orphans, roots and bad data ---------------------------------------------------------


def test_orphan_whose_parent_never_arrived_is_adopted_by_the_root():
    t = trace(
        span("r", None, 0, 100, service="a"), span("server", "lost-client", 20, 80, service="b")
    )
    assert owners(t) == [("r", 0, 20), ("server", 20, 80), ("r", 80, 100)]


def test_several_roots_get_a_synthetic_root_that_owns_the_gaps_and_is_never_blamed():
    t = trace(span("r1", None, 0, 10), span("r2", None, 30, 40))
    assert owners(t) == [("r1", 0, 10), (SYNTHETIC_ROOT, 10, 30), ("r2", 30, 40)]
    assert self_times(t)[("", SYNTHETIC_ROOT)] == 20
    b = blame(t)
    assert b is not None
    assert b.service == "svc"
    assert b.span_name in {"r1", "r2"}


def test_missing_root_spans_sharing_a_lost_parent_hang_off_a_synthetic_root():
    t = trace(span("a", "gone", 0, 30), span("b", "gone", 20, 50), span("q", "b", 25, 45))
    assert owners(t) == [(SYNTHETIC_ROOT, 0, 20), ("b", 20, 25), ("q", 25, 45), ("b", 45, 50)]
    assert_tiles(t, 0, 50)


def test_duplicate_span_ids_keep_the_first_copy():
    t = trace(span("r", None, 0, 100), span("a", "r", 10, 20), span("a", "r", 10, 90))
    assert owners(t) == [("r", 0, 10), ("a", 10, 20), ("r", 20, 100)]


@pytest.mark.timeout(5)
def test_parent_cycle_hanging_off_a_root_terminates_and_is_adopted():
    t = trace(span("r", None, 0, 100), span("x", "y", 10, 50), span("y", "x", 20, 40))
    assert owners(t) == [("r", 0, 10), ("x", 10, 20), ("y", 20, 40), ("x", 40, 50), ("r", 50, 100)]


@pytest.mark.timeout(5)
def test_trace_made_only_of_a_cycle_and_self_parents_terminates():
    t = trace(span("x", "y", 0, 50), span("y", "x", 10, 40), span("z", "z", 60, 70))
    assert_tiles(t, 0, 70)
    assert blame(t) is not None


@pytest.mark.timeout(5)
def test_empty_string_ids_do_not_collide_with_the_synthetic_root():
    t = trace(span("", None, 0, 10), span("b", None, 20, 30), span("c", "", 2, 5))
    assert_tiles(t, 0, 30)


def test_span_ending_before_it_starts_counts_as_zero_length():
    t = trace(span("r", None, 0, 100), span("bad", "r", 60, 20))
    assert owners(t) == [("r", 0, 100)]


def test_empty_trace_has_no_path_no_self_times_and_no_blame():
    empty = trace()
    assert critical_path(empty) == []
    assert self_times(empty) == {}
    assert blame(empty) is None


def test_non_span_entries_are_ignored():
    spans = [span("r", None, 0, 10), None, "garbage", 42]
    assert owners(spans) == [("r", 0, 10)]  # type: ignore[arg-type]


@pytest.mark.timeout(10)
def test_deep_chain_does_not_hit_the_recursion_limit():
    n = 5000
    spans = [span("s0", None, 0, 2 * n)]
    spans += [span(f"s{i}", f"s{i - 1}", i, 2 * n - i) for i in range(1, n)]
    assert_tiles(spans, 0, 2 * n)


def _random_trace(rng: random.Random) -> list[Span]:
    n = rng.randint(1, 25)
    ids = [f"{i:016x}" for i in range(n)]
    spans = []
    for i, sid in enumerate(ids):
        parent = None if i == 0 or rng.random() < 0.1 else rng.choice(ids)
        start = rng.randint(0, 1000)
        spans.append(
            span(
                sid,
                parent,
                start,
                start + rng.randint(-5, 400),
                service=rng.choice("ab"),
                error=rng.random() < 0.1,
            )
        )
    return spans + rng.sample(spans, k=min(2, n))  # duplicates


@pytest.mark.timeout(30)
def test_random_bad_traces_always_tile_their_root_without_hanging():
    rng = random.Random(7)
    for _ in range(2000):
        spans = _random_trace(rng)
        path = critical_path(spans)
        total = sum(s.duration_ns for s in path)
        assert total == (path[-1].end_ns - path[0].start_ns if path else 0)
        assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(path))
        assert sum(self_times(spans).values()) == total
        blame(spans)


# --- self times and blame ---------------------------------------------------------------


def _predict_trace(sqlite_ns: int = 10, predict_ns: int = 30, *, errors: str = "") -> Trace:
    """A model-server request: fetch features from the feature store, then predict."""
    ms, fs = "model-server", "feature-store"
    return trace(
        span("r", None, 0, 70 + sqlite_ns + predict_ns, ms, "POST /predict", error="r" in errors),
        span(
            "c",
            "r",
            5,
            35 + sqlite_ns,
            ms,
            "feature_store.fetch",
            error="c" in errors,
            kind=SPAN_KIND_CLIENT,
            attributes={"peer.service": fs},
        ),
        span("s", "c", 10, 30 + sqlite_ns, fs, "GET /features/{entity_id}", error="s" in errors),
        span("q", "s", 15, 15 + sqlite_ns, fs, "sqlite.query", error="q" in errors),
        span("p", "r", 40 + sqlite_ns, 40 + sqlite_ns + predict_ns, ms, "model.predict"),
    )


def test_self_times_are_keyed_by_service_and_span_name_and_sum_to_the_root():
    times = self_times(_predict_trace(sqlite_ns=10, predict_ns=30))
    assert times == {
        ("model-server", "POST /predict"): 40,
        ("model-server", "feature_store.fetch"): 10,
        ("feature-store", "GET /features/{entity_id}"): 20,
        ("feature-store", "sqlite.query"): 10,
        ("model-server", "model.predict"): 30,
    }


def test_latency_blame_names_the_largest_critical_path_self_time():
    b = blame(_predict_trace(sqlite_ns=200))
    assert b is not None
    assert (b.service, b.span_name, b.reason, b.span_id) == (
        "feature-store",
        "sqlite.query",
        "latency",
        "q",
    )
    assert b.share == pytest.approx(200 / 300)
    assert b.evidence["self_ns"] == 200
    assert b.evidence["trace_ns"] == 300
    assert b.evidence["runner_up_self_ns"] == 40


def test_concurrent_span_off_the_path_is_never_blamed_for_latency():
    t = trace(
        span("r", None, 0, 100), span("slow-but-hidden", "r", 1, 98), span("critical", "r", 0, 99)
    )
    b = blame(t)
    assert b is not None
    assert b.span_name == "critical"


def test_error_origin_is_the_erroring_span_without_erroring_children_not_the_propagated_ones():
    b = blame(_predict_trace(errors="rcs"))
    assert b is not None
    assert (b.service, b.span_name, b.reason) == (
        "feature-store",
        "GET /features/{entity_id}",
        "error",
    )
    assert b.evidence["error_spans"] == 3
    assert b.evidence["origin_candidates"] == 1


def test_error_beats_latency_even_when_the_error_origin_was_fast():
    b = blame(_predict_trace(sqlite_ns=500, errors="rc"))
    assert b is not None
    assert (b.span_name, b.reason) == ("feature_store.fetch", "error")
    assert b.peer_service == "feature-store"
    assert b.kind == SPAN_KIND_CLIENT


def test_of_two_independent_error_origins_the_latest_ending_is_blamed():
    t = trace(
        span("r", None, 0, 100, error=True),
        span("try1", "r", 0, 40, error=True),
        span("try2", "r", 50, 90, error=True),
    )
    b = blame(t)
    assert b is not None
    assert (b.span_name, b.reason, b.evidence["origin_candidates"]) == ("try2", "error", 2)


def test_equal_ending_error_origins_the_deeper_is_blamed():
    t = trace(
        span("r", None, 0, 100),
        span("a", "r", 0, 50, error=True),
        span("b", "r", 0, 50),
        span("deep", "b", 10, 50, error=True),
    )
    b = blame(t)
    assert b is not None
    assert b.span_name == "deep"


# --- aggregate -------------------------------------------------------------------------


def _b(service: str, name: str, share: float, reason: str = "latency") -> Blame:
    return Blame(TRACE, service, name, reason, share)


def test_aggregate_ranks_spans_and_services_by_traces_blaming_them():
    blames: list[Blame | None] = [_b("fs", "sqlite.query", 0.6)] * 3
    blames += [_b("ms", "model.predict", 0.9)] * 2
    blames += [_b("fs", "GET /features", 0.5, "error"), None]
    summary = aggregate(blames)
    assert (summary.analysed, summary.blamed) == (7, 6)
    assert summary.by_reason == {"latency": 5, "error": 1}
    top = summary.top
    assert top is not None
    assert (top.service, top.span_name, top.traces) == ("fs", "sqlite.query", 3)
    assert top.share == pytest.approx(3 / 7)
    assert top.mean_path_share == pytest.approx(0.6)
    assert [(c.service, c.traces) for c in summary.services] == [("fs", 4), ("ms", 2)]
    assert summary.top_service is not None
    assert summary.top_service.span_name is None


def test_aggregate_breaks_ties_on_mean_path_share():
    summary = aggregate([_b("a", "x", 0.2), _b("b", "y", 0.7)])
    assert summary.top is not None
    assert summary.top.service == "b"


def test_aggregate_of_nothing_has_no_top():
    summary = aggregate([])
    assert (summary.analysed, summary.blamed, summary.top, summary.top_service) == (
        0,
        0,
        None,
        None,
    )


def test_aggregate_over_blamed_traces_names_the_slowed_component():
    traces = [_predict_trace(sqlite_ns=s, predict_ns=30) for s in (80, 90, 20, 100)]
    top = aggregate(blame(t) for t in traces).top
    assert top is not None
    assert (top.service, top.span_name, top.traces) == ("feature-store", "sqlite.query", 3)


def test_blame_accepts_a_one_shot_iterable_of_spans():
    spans = _predict_trace(errors="rcs").spans
    b = blame(iter(spans))
    assert b is not None
    assert (b.span_name, b.reason) == ("GET /features/{entity_id}", "error")
    assert owners(iter(spans))[0] == ("POST /predict", 0, 5)  # type: ignore[arg-type]
