"""Root cause from traces: the critical path, self times, blame, and blame over many traces.

The critical path follows Jaeger's implementation of Uber's CRISP: from the root's end, walk
backwards; the last-finishing child that ends at or before the cursor is on the path; recurse
into it; then continue, in the parent, with the last child that ended at or before that child
started, and so on. Wall time between the children on the path belongs to the parent (its
*self time*). The segments tile the root's interval exactly, so their durations sum to the
root's duration. Unlike Jaeger (strictly before), a child ending exactly when the next one
starts is on the path: back-to-back calls are the common case, not the parent's own time.
Among children ending together, the longer one is taken: it covers more of the wait.

Bad data is normal in traces, so the tree is repaired before the walk (pure functions, no I/O):

* **Duplicate span ids**: the first span with an id wins; later copies are ignored.
* **Cycles** (a span that is its own ancestor): the spans they make unreachable are adopted
  as orphans, so the walk always terminates.
* **Orphans** (parent never arrived): if the trace has exactly one real root (``parent_id``
  None or empty) the orphans become its children. Otherwise (no real root, or several) a
  synthetic root spans all top-level spans; its self time (gaps between them) is reported
  under service ``""`` and name :data:`SYNTHETIC_ROOT` and is never blamed.
* **Clock skew**: a child from another service than its parent (another host's clock) that
  sticks out of its parent but is no longer than it is shifted, with its same-service
  descendants, just enough to fit. Anything still outside (async work outliving its parent, or a
  child longer than its parent) is clamped into the parent's interval. A span ending before it
  starts is treated as zero-length.
* **Overlapping siblings**: a sibling still running when the critical child started runs
  concurrently with it, so it is off the path (CRISP's happens-before rule); the parent owns any
  gap before the critical child that no earlier-ending sibling covers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gameday.telemetry.spans import SPAN_KIND_INTERNAL, Span, Trace

SYNTHETIC_ROOT = "(missing root)"
"""Span name of the synthetic root made when a trace has no single real root."""

_SYNTHETIC = Span(
    trace_id="", span_id="", parent_id=None, name=SYNTHETIC_ROOT, service="", start_ns=0, end_ns=0
)

SpanKey = tuple[str, str]
"""``(service, span name)``: what blame and self times are keyed by."""


@dataclass(frozen=True, slots=True)
class PathSegment:
    """An interval of the root's wall time owned by one span on the critical path."""

    span_id: str
    service: str
    name: str
    start_ns: int
    end_ns: int
    kind: int = SPAN_KIND_INTERNAL

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class Blame:
    """Who one trace blames: the error origin, or else the largest critical-path self time.

    ``share`` is the blamed (service, span name)'s critical-path self time over the root's
    duration (0 when the trace has no duration). ``span_id`` is the blamed span (for latency,
    the one span with that key contributing most self time). ``peer_service`` is the
    ``peer.service`` attribute of a blamed CLIENT span: a client span's self time is time on
    the wire or in the peer before its server span began, so a verifier may credit the peer.
    """

    trace_id: str
    service: str
    span_name: str
    reason: str  # "error" | "latency"
    share: float
    span_id: str = ""
    kind: int = SPAN_KIND_INTERNAL
    peer_service: str | None = None
    evidence: Mapping[str, float] = field(default_factory=dict)

    @property
    def key(self) -> SpanKey:
        return (self.service, self.span_name)


@dataclass(frozen=True, slots=True)
class Culprit:
    """One row of a :class:`RootCauseSummary`: how many traces blame this service (or span)."""

    service: str
    span_name: str | None  # None on per-service rows
    traces: int
    share: float  # traces / analysed traces
    mean_path_share: float  # mean critical-path share over the traces that blame it


@dataclass(frozen=True, slots=True)
class RootCauseSummary:
    """Blame over many traces, rows sorted by traces blaming them (then path share, name)."""

    analysed: int
    blamed: int
    by_reason: Mapping[str, int]
    services: tuple[Culprit, ...]
    spans: tuple[Culprit, ...]

    @property
    def top(self) -> Culprit | None:
        """The top-1 (service, span name), or None when nothing was blamed."""
        return self.spans[0] if self.spans else None

    @property
    def top_service(self) -> Culprit | None:
        """The top-1 service, or None when nothing was blamed."""
        return self.services[0] if self.services else None


class _Node:
    """A span placed in the repaired tree, with skew-corrected, clamped times."""

    __slots__ = ("children", "depth", "end", "shift", "span", "start")

    def __init__(self, span: Span, start: int, end: int, shift: int, depth: int) -> None:
        self.span = span
        self.start = start
        self.end = end
        self.shift = shift  # applied to same-service descendants: they share this clock
        self.depth = depth
        self.children: list[_Node] = []


def _span_list(trace: Trace | Iterable[Span]) -> list[Span]:
    spans = trace.spans if isinstance(trace, Trace) else trace
    return [s for s in spans if isinstance(s, Span)]


def _index(spans: list[Span]) -> tuple[dict[str, Span], dict[str, list[Span]], list[Span]]:
    """Unique spans by id, children by parent id, and top-level spans (roots and orphans)."""
    by_id: dict[str, Span] = {}
    for s in spans:
        by_id.setdefault(s.span_id, s)
    kids: dict[str, list[Span]] = {}
    tops: list[Span] = []
    for s in by_id.values():
        parent = s.parent_id
        if not parent or parent == s.span_id or parent not in by_id:
            tops.append(s)
        else:
            kids.setdefault(parent, []).append(s)
    return by_id, kids, tops


def _place(span: Span, parent: _Node) -> _Node:
    """Put a child inside its parent: shift cross-service skew, then clamp (module docstring)."""
    same_clock = span.service == parent.span.service
    shift = parent.shift if same_clock else 0
    start = span.start_ns + shift
    end = max(start, span.end_ns + shift)
    lo, hi = parent.start, parent.end
    if lo <= start and end <= hi:  # the common case: nothing to repair
        return _Node(span, start, end, shift, parent.depth + 1)
    if not same_clock and end - start <= hi - lo and parent.span is not _SYNTHETIC:
        delta = lo - start if start < lo else hi - end
        start, end, shift = start + delta, end + delta, shift + delta
    start = min(max(start, lo), hi)
    return _Node(span, start, min(max(end, start), hi), shift, parent.depth + 1)


def _grow(top: _Node, kids: dict[str, list[Span]], seen: set[str]) -> None:
    """Attach descendants under ``top`` depth-first; ``seen`` breaks cycles."""
    stack = [top]
    while stack:
        node = stack.pop()
        for child in kids.get(node.span.span_id, ()):
            if child.span_id in seen:
                continue
            seen.add(child.span_id)
            placed = _place(child, node)
            node.children.append(placed)
            stack.append(placed)


def _top_node(tops: list[Span]) -> tuple[_Node, list[Span]]:
    """The root node and the top-level spans to adopt under it (module docstring)."""
    real = [s for s in tops if not s.parent_id]
    if len(real) == 1:
        root = real[0]
        node = _Node(root, root.start_ns, max(root.start_ns, root.end_ns), 0, 0)
        return node, [s for s in tops if s is not root]
    start = min(s.start_ns for s in tops)
    end = max(max(s.start_ns, s.end_ns) for s in tops)
    return _Node(_SYNTHETIC, start, end, 0, 0), tops


def _assemble(tops: list[Span], kids: dict[str, list[Span]]) -> tuple[_Node, set[str]]:
    """Place the root, adopt the other top-level spans under it, grow the tree below."""
    root, adopt = _top_node(tops)
    # The synthetic root's id must not shadow a real span's (bad data may use "" as an id).
    seen: set[str] = set() if root.span is _SYNTHETIC else {root.span.span_id}
    _grow(root, kids, seen)
    for span in sorted(adopt, key=lambda s: (s.start_ns, s.span_id)):
        if span.span_id not in seen:
            seen.add(span.span_id)
            adopted = _place(span, root)
            root.children.append(adopted)
            _grow(adopted, kids, seen)
    return root, seen


def _build(spans: list[Span]) -> tuple[_Node, int] | None:
    """The repaired tree's root and its number of (unique) spans; None without spans."""
    if not spans:
        return None
    by_id, kids, tops = _index(spans)
    while True:
        if tops:
            root, seen = _assemble(tops, kids)
            if len(seen) >= len(by_id):
                return root, len(by_id)
        else:
            seen = set()
        # Spans on a parent cycle are unreachable from any top: adopt one as an orphan and
        # build again (rare bad data, so the common path stays a single pass).
        left = [s for s in by_id.values() if s.span_id not in seen]
        tops = [*tops, min(left, key=lambda s: (s.start_ns, s.span_id))]


def _nodes(root: _Node) -> list[_Node]:
    out = [root]
    for node in out:  # the list grows while we iterate: a breadth-first walk
        out.extend(node.children)
    return out


def _by_end(node: _Node) -> list[_Node]:
    # Latest end first; on equal ends the earlier start covers more of the wait, so it wins.
    kids = node.children
    return sorted(kids, key=lambda c: (-c.end, c.start)) if len(kids) > 1 else kids


def _emit(out: list[tuple[_Node, int, int]], node: _Node, start: int, end: int) -> None:
    # A zero-length child splits its parent's interval in two: keep the interval whole.
    if out and out[-1][0] is node and out[-1][1] == end:
        end = out.pop()[2]
    out.append((node, start, end))


def _walk(root: _Node) -> list[tuple[_Node, int, int]]:
    """Critical-path segments ``(owner, start, end)``, latest first (module docstring)."""
    out: list[tuple[_Node, int, int]] = []
    stack: list[tuple[_Node, list[_Node], int, int]] = []
    node, kids, i, cursor = root, _by_end(root), 0, root.end
    while True:
        n = len(kids)
        while i < n and kids[i].end > cursor:
            i += 1  # still running at the cursor: concurrent with the critical one, off path
        if i < n:
            child = kids[i]
            if child.end < cursor:
                _emit(out, node, child.end, cursor)
            stack.append((node, kids, i + 1, child.start))
            node, kids, i, cursor = child, _by_end(child), 0, child.end
            continue
        if node.start < cursor:
            _emit(out, node, node.start, cursor)
        if not stack:
            return out
        node, kids, i, cursor = stack.pop()


def critical_path(trace: Trace | Iterable[Span]) -> list[PathSegment]:
    """The trace's critical path, in time order; durations sum to the (repaired) root's.

    An empty trace has an empty path. Zero-length intervals are left out.
    """
    built = _build(_span_list(trace))
    if built is None:
        return []
    return [
        PathSegment(n.span.span_id, n.span.service, n.span.name, a, b, n.span.kind)
        for n, a, b in reversed(_walk(built[0]))
    ]


def _self_by_node(path: list[tuple[_Node, int, int]]) -> dict[_Node, int]:
    totals: dict[_Node, int] = {}
    for node, a, b in path:
        totals[node] = totals.get(node, 0) + b - a
    return totals


def _self_by_key(per_node: dict[_Node, int]) -> dict[SpanKey, int]:
    totals: dict[SpanKey, int] = {}
    for node, ns in per_node.items():
        key = (node.span.service, node.span.name)
        totals[key] = totals.get(key, 0) + ns
    return totals


def self_times(trace: Trace | Iterable[Span]) -> dict[SpanKey, int]:
    """Critical-path self time in ns per ``(service, span name)``; sums to the root's duration.

    Includes ``("", SYNTHETIC_ROOT)`` when the trace needed a synthetic root and had gaps.
    """
    built = _build(_span_list(trace))
    if built is None:
        return {}
    return _self_by_key(_self_by_node(_walk(built[0])))


def _error_origin(root: _Node) -> tuple[_Node, int, int] | None:
    """The latest-ending erroring span with no erroring child (deeper wins ties).

    Latest-ending because when several error chains start independently (retries, fan-out),
    the last one is what the caller finally saw fail.
    """
    errors = [n for n in _nodes(root) if n.span.error]
    if not errors:
        return None
    origins = [n for n in errors if not any(c.span.error for c in n.children)]
    best = max(origins, key=lambda n: (n.end, n.depth))
    return best, len(errors), len(origins)


def _peer(node: _Node) -> str | None:
    peer = node.span.attributes.get("peer.service") if node.span.attributes else None
    return str(peer) if peer is not None else None


def _make_blame(
    node: _Node, reason: str, self_ns: int, total: int, evidence: dict[str, float]
) -> Blame:
    span = node.span
    evidence.update(self_ns=self_ns, trace_ns=total)
    return Blame(
        span.trace_id,
        span.service,
        span.name,
        reason,
        self_ns / total if total > 0 else 0.0,
        span.span_id,
        span.kind,
        _peer(node),
        evidence,
    )


def blame(trace: Trace | Iterable[Span]) -> Blame | None:
    """Blame one trace: the error origin if any span failed, else the largest self time.

    Error origin: an erroring span none of whose children errs (several: the latest-ending,
    then the deepest). Latency: the ``(service, span name)`` with the largest critical-path
    self time, never the synthetic root. None for an empty trace, or a trace without errors
    whose path has no positive self time (nothing took any time).
    """
    spans = _span_list(trace)
    built = _build(spans)
    if built is None:
        return None
    root, n_spans = built
    total = root.end - root.start
    per_node = _self_by_node(_walk(root))
    per_key = _self_by_key(per_node)
    # Scanning the spans is cheaper than walking the tree, which healthy traces never need.
    origin = _error_origin(root) if any(s.error for s in spans) else None
    if origin is not None:
        node, n_errors, n_origins = origin
        own = per_key.get((node.span.service, node.span.name), 0)
        return _make_blame(
            node,
            "error",
            own,
            total,
            {"error_spans": n_errors, "origin_candidates": n_origins, "spans": n_spans},
        )
    return _latency_blame(per_node, per_key, total, n_spans)


def _latency_blame(
    per_node: dict[_Node, int], per_key: dict[SpanKey, int], total: int, n_spans: int
) -> Blame | None:
    per_key.pop(("", SYNTHETIC_ROOT), None)
    ranked = sorted(per_key.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] <= 0:
        return None
    key, own = ranked[0]
    node = max(
        (n for n in per_node if (n.span.service, n.span.name) == key), key=lambda n: per_node[n]
    )
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return _make_blame(
        node, "latency", own, total, {"runner_up_self_ns": runner_up, "spans": n_spans}
    )


def _rank(rows: dict[tuple[str, str | None], list[float]], analysed: int) -> tuple[Culprit, ...]:
    out = [
        Culprit(service, name, len(shares), len(shares) / analysed, sum(shares) / len(shares))
        for (service, name), shares in rows.items()
    ]
    out.sort(key=lambda c: (-c.traces, -c.mean_path_share, c.service, c.span_name or ""))
    return tuple(out)


def aggregate(blames: Iterable[Blame | None]) -> RootCauseSummary:
    """Summarise per-trace blames: for each service and each (service, span name), how many
    traces blame it and which share of the analysed traces (None entries count as analysed
    but blame nothing), sorted so ``top`` is the top-1 culprit."""
    by_span: dict[tuple[str, str | None], list[float]] = {}
    by_service: dict[tuple[str, str | None], list[float]] = {}
    reasons: dict[str, int] = {}
    analysed = 0
    for b in blames:
        analysed += 1
        if b is not None:
            by_span.setdefault((b.service, b.span_name), []).append(b.share)
            by_service.setdefault((b.service, None), []).append(b.share)
            reasons[b.reason] = reasons.get(b.reason, 0) + 1
    return RootCauseSummary(
        analysed,
        sum(reasons.values()),
        reasons,
        _rank(by_service, analysed),
        _rank(by_span, analysed),
    )
