"""gameday's reading of an Alertmanager configuration agrees with a real Alertmanager 0.25.

A few hundred generated alerts (seeded, over a small vocabulary so values collide) are posted
to one Alertmanager; what it lists for each (receivers, inhibition) and how it groups them must
be what :class:`gameday.alerting.RoutingTree` predicts, alert by alert.
"""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml

from gameday.alerting import RoutingConfigError, RoutingTree, Tri
from gameday.telemetry import AlertmanagerAlert, AlertmanagerClient
from gameday.telemetry.backends import find_binary, start_alertmanager

T = TypeVar("T")

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="Watchdog"']
      receiver: deadman
      group_by: ['...']
    - match: {team: ranking}
      receiver: ranking
      group_by: [alertname, model]
      routes:
        - matchers: ['severity=~"critical|page"', 'env!="dev"']
          receiver: ranking-pager
          continue: true
        - match_re: {service: 'model-[[:alpha:]-]+'}
          receiver: ranking-models
          group_by: ['...']
        - matchers: ['severity!~"info|warning"']
          group_by: [severity]
    - matchers: ['team=~"fraud|data"', 'alertname!~Disk.*']
      receiver: fraud
      continue: true
      routes:
        - matchers: ['env="prod"']
          receiver: fraud-prod
          group_by: []
          routes:
            - matchers: ['region=""']
              receiver: fraud-noregion
    - matchers: ['severity="critical"']
      receiver: critical
      continue: true
      group_by: [service, region]
    - match_re: {service: '(?i)GATEWAY|feature-.*'}
      receiver: platform
      routes:
        - matchers: ['env=~"prod|staging", team!=""']
          receiver: platform-team
          continue: true
        - matchers: ['region="eu"']
          receiver: platform-eu
          continue: true
        - match: {severity: critical}
          receiver: critical
    - matchers: ['{severity="info", env!~"prod|staging"}']
      receiver: quiet
receivers:
  - name: default
  - name: deadman
  - name: ranking
  - name: ranking-pager
  - name: ranking-models
  - name: fraud
  - name: fraud-prod
  - name: fraud-noregion
  - name: critical
  - name: platform
  - name: platform-team
  - name: platform-eu
  - name: quiet
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"warning|info"']
    equal: [alertname, service]
  - source_match: {alertname: ModelDown}
    target_match_re: {alertname: 'HighLatency|ErrorRate'}
    equal: [model, env]
  - source_matchers: ['team="infra"', 'severity!="info"']
    target_matchers: ['team=~"infra|data"']
    equal: [region, service]
"""

VOCABULARY = {
    "severity": ("critical", "warning", "info", "page"),
    "team": ("ranking", "fraud", "data", "infra"),
    "service": ("model-server", "feature-store", "gateway", "batch"),
    "env": ("prod", "staging", "dev", "preprod"),
    "region": ("eu", "us"),
    "model": ("fraud", "ranking"),
}
ALERTNAMES = ("HighLatency", "ErrorRate", "ModelDown", "DiskFull", "Watchdog", "FeatureStale")
COUNT = 400
MISSING = 0.25  # each label but alertname is left out this often


def _label_sets(seed: int, count: int) -> list[dict[str, str]]:
    """``count`` draws, without repeats (Alertmanager would merge identical label sets)."""
    rng = random.Random(seed)
    unique: dict[frozenset[tuple[str, str]], dict[str, str]] = {}
    for _ in range(count):
        labels = {"alertname": rng.choice(ALERTNAMES)}
        for name, values in VOCABULARY.items():
            if rng.random() >= MISSING:
                labels[name] = rng.choice(values)
        unique.setdefault(frozenset(labels.items()), labels)
    return list(unique.values())


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Fetch until ``done`` or ``timeout`` s pass; the last value either way."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.2)
        value = fetch()
    return value


def _key(labels: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


@dataclass
class _Posted:
    """The running Alertmanager, what was posted, and gameday's reading of its configuration."""

    url: str
    tree: RoutingTree
    posted: list[dict[str, str]]
    listed: dict[frozenset[tuple[str, str]], AlertmanagerAlert]

    def alerts(self) -> list[AlertmanagerAlert]:
        return AlertmanagerClient(self.url).alerts()


@pytest.fixture(scope="module")
def posted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Posted]:
    """One Alertmanager with CONFIG, every generated alert posted and listed back."""
    directory: Path = tmp_path_factory.mktemp("alertmanager")
    child = start_alertmanager(CONFIG, directory)
    try:
        url = str(child.info["url"])
        label_sets = _label_sets(seed=19, count=COUNT)
        now = datetime.now(UTC)
        body = [
            {
                "labels": labels,
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=5)).isoformat(),
            }
            for labels in label_sets
        ]
        requests.post(f"{url}/api/v2/alerts", json=body, timeout=10).raise_for_status()
        wanted = {_key(labels) for labels in label_sets}
        alerts = _poll(
            AlertmanagerClient(url).alerts,
            lambda got: {_key(a.labels) for a in got} == wanted,
            timeout=30,
        )
        listed = {_key(a.labels): a for a in alerts}
        assert set(listed) == wanted, f"Alertmanager lists {len(listed)} of {len(wanted)} alerts"
        yield _Posted(url, RoutingTree.from_yaml(CONFIG), label_sets, listed)
    finally:
        child.stop()


def _report(disagreements: list[str], total: int) -> str:
    shown = "\n".join(disagreements[:25])
    return f"{len(disagreements)} of {total} label sets disagree:\n{shown}"


@pytest.mark.integration
@pytest.mark.slow
def test_every_alert_goes_to_the_receivers_gameday_predicts_in_order(posted: _Posted) -> None:
    """Receivers as ``GET /api/v2/alerts`` lists them: one per matched route, repeats kept."""
    disagreements = []
    for labels in posted.posted:
        ours = [m.receiver for m in posted.tree.match(labels)]
        theirs = list(posted.listed[_key(labels)].receivers)
        if ours != theirs:
            disagreements.append(f"{labels}: ours {ours}, Alertmanager {theirs}")

    assert not disagreements, _report(disagreements, len(posted.posted))
    # The generated alerts exercise the tree: every receiver, and some repeated receiver.
    reached = {r for a in posted.listed.values() for r in a.receivers}
    assert reached == set(posted.tree.receivers)
    assert any(len(set(a.receivers)) < len(a.receivers) for a in posted.listed.values())


def _inhibition_disagreements(posted: _Posted, alerts: list[AlertmanagerAlert]) -> list[str]:
    by_fingerprint = {a.fingerprint: a.labels for a in alerts}
    disagreements = []
    for alert in alerts:
        ours = posted.tree.inhibiting(alert.labels, posted.posted)
        theirs = [dict(by_fingerprint.get(fp, {"?": fp})) for fp in alert.inhibited_by]
        agree = bool(ours) == bool(theirs) and all(source in ours for source in theirs)
        if not agree:
            mine = ours[:3]
            disagreements.append(f"{dict(alert.labels)}: ours inhibited by {mine}, AM {theirs}")
    return disagreements


@pytest.mark.integration
@pytest.mark.slow
def test_every_alert_is_inhibited_exactly_when_gameday_predicts(posted: _Posted) -> None:
    """``status.inhibitedBy`` names one source; gameday's sources must include it."""
    # The inhibitor caches source alerts as they arrive: wait until it has seen them all.
    alerts = _poll(posted.alerts, lambda got: not _inhibition_disagreements(posted, got), 20)

    disagreements = _inhibition_disagreements(posted, alerts)

    assert not disagreements, _report(disagreements, len(alerts))
    inhibited = [a for a in alerts if a.inhibited_by]
    assert 20 <= len(inhibited) <= len(alerts) - 20, "the sample should inhibit some, not all"
    assert {a.state for a in inhibited} == {"suppressed"}
    by_rule = Counter(
        rule.where
        for a in inhibited
        for rule in posted.tree.inhibit_rules
        if any(rule.inhibits(source, a.labels) for source in posted.posted)
    )
    assert len(by_rule) == len(posted.tree.inhibit_rules), f"every rule mutes some: {by_rule}"


def _groups(url: str) -> Counter[tuple[str, frozenset[tuple[str, str]], frozenset[str]]]:
    response = requests.get(f"{url}/api/v2/alerts/groups", timeout=10)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()
    return Counter(
        (
            item["receiver"]["name"],
            frozenset(item["labels"].items()),
            frozenset(a["fingerprint"] for a in item["alerts"]),
        )
        for item in items
    )


@pytest.mark.integration
@pytest.mark.slow
def test_alerts_are_grouped_per_route_by_the_labels_gameday_predicts(posted: _Posted) -> None:
    """Each (route, group key) of gameday is one of Alertmanager's groups, with the same alerts."""
    members: dict[tuple[str, str, tuple[tuple[str, str], ...]], set[str]] = defaultdict(set)
    for labels in posted.posted:
        fingerprint = posted.listed[_key(labels)].fingerprint
        for route in posted.tree.match(labels):
            members[(route.path, route.receiver, route.group_key(labels))].add(fingerprint)
    ours = Counter(
        (receiver, frozenset(key), frozenset(fps)) for (_, receiver, key), fps in members.items()
    )

    theirs = _poll(lambda: _groups(posted.url), lambda got: got == ours, timeout=20)

    only_ours, only_theirs = ours - theirs, theirs - ours
    assert not only_ours and not only_theirs, (
        f"groups only gameday predicts: {sorted(only_ours.elements(), key=str)[:10]}\n"
        f"groups only Alertmanager has: {sorted(only_theirs.elements(), key=str)[:10]}"
    )
    assert len(ours) > 50


@pytest.mark.integration
@pytest.mark.slow
def test_partial_knowledge_never_misses_a_receiver_alertmanager_picked(posted: _Posted) -> None:
    """With labels hidden, ``possible`` lists every receiver Alertmanager picked; ``certain``
    ones it picked for sure; ``could_inhibit`` never says NO to an inhibition that happened."""
    rng = random.Random(7)
    by_fingerprint = {a.fingerprint: a.labels for a in posted.listed.values()}
    problems = []
    for labels in posted.posted:
        alert = posted.listed[_key(labels)]
        shown = {k: v for k, v in labels.items() if k == "alertname" or rng.random() < 0.5}
        possible = posted.tree.possible(shown)
        theirs = list(alert.receivers)
        if not set(theirs) <= {m.receiver for m in possible}:
            problems.append(f"{shown} (of {labels}): {theirs} not all in {possible}")
        if not {m.receiver for m in possible if m.certain} <= set(theirs):
            problems.append(f"{shown} (of {labels}): certain {possible} but AM {theirs}")
        for fingerprint in alert.inhibited_by:
            source = by_fingerprint[fingerprint]
            if posted.tree.could_inhibit({"alertname": source["alertname"]}, shown) is Tri.NO:
                problems.append(f"{source} inhibits {labels}; could_inhibit says NO")

    assert not problems, _report(problems, len(posted.posted))


# Matcher texts (one ``matchers:`` item each) both read alike: gameday refuses what amtool does.
READ_ALIKE = [
    ('foo="bar"', True),
    ("foo=bar", True),
    ('{foo="bar", baz!="q",}', True),
    (r'x="a\",b"', True),
    (r'x="a\b",y="c"', True),
    ("empty=", True),
    ('ns:name="x"', True),
    ('severity=~"(?i)crit|page"', True),
    ('v=~"a|(?i)b"', True),
    ('v=~"[[:digit:]]+"', True),
    ('v=~"x{,2}"', True),
    ('v=~"a$"', True),
    ('v=~"(?P<n>a)b"', True),
    (r'v=~"\\d+"', True),
    ('v=~"(?s:a.b)"', True),
    ("foo", False),
    ('foo=="bar"', False),
    ('foo="bar', False),
    ('foo=b"ar', False),
    ('a="1",,b="2"', False),
    ('{a="1"} ', False),
    ('v=~"(?=a)"', False),
    (r'v=~"(a)\\1"', False),
    ('v=~"a**"', False),
    ('v=~"(?x)a"', False),
    ('v=~"(?#c)a"', False),
    ('v=~"(x"', False),
    (r'v=~"\\Z"', False),
]
# Known differences, kept visible: Go syntax gameday refuses rather than guess, and the
# repetition limit Go enforces and Python does not.
GO_ONLY = [r'v=~"\\pL"', 'v=~"a(?i)b"', 'v=~"(?U)a+"', 'v=~"[[:^alpha:]]"', r'v=~"\\x{41}"']
PYTHON_ONLY = ['v=~"a{1001}"']


def _with_watchdog_matcher(matcher: str) -> dict[str, Any]:
    """CONFIG with ``matcher`` as the only matcher of its first route."""
    config: dict[str, Any] = yaml.safe_load(CONFIG)
    config["route"]["routes"][0]["matchers"] = [matcher]
    return config


def _amtool_accepts(amtool: str, matcher: str, directory: Path) -> bool:
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(_with_watchdog_matcher(matcher)))
    done = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    return done.returncode == 0


def _gameday_accepts(matcher: str) -> bool:
    try:
        RoutingTree.from_config(_with_watchdog_matcher(matcher))
    except RoutingConfigError:
        return False
    return True


@pytest.mark.integration
@pytest.mark.slow
def test_matcher_texts_are_refused_exactly_when_amtool_refuses_them(tmp_path: Path) -> None:
    amtool = find_binary(("amtool",))

    def both(text: str) -> tuple[bool, bool]:
        return _amtool_accepts(amtool, text, tmp_path), _gameday_accepts(text)

    answers = {text: both(text) for text, _ in READ_ALIKE}

    disagreements = [
        f"{text}: expected {'accepted' if valid else 'refused'}; (amtool, gameday) accept: "
        f"{answers[text]}"
        for text, valid in READ_ALIKE
        if answers[text] != (valid, valid)
    ]
    assert not disagreements, "\n".join(disagreements)
    assert [both(text) for text in GO_ONLY] == [(True, False)] * len(GO_ONLY)
    assert [both(text) for text in PYTHON_ONLY] == [(False, True)] * len(PYTHON_ONLY)
