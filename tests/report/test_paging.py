"""Who was paged, in the HTML report, the JUnit properties and the Markdown summary: read from
Alertmanager's recorded output (webhook deliveries, alert statuses), no stack."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from gameday.evidence.model import AlertStatusEvidence
from gameday.evidence.testing import EvidenceBuilder
from gameday.report import collect, render_html, to_junit, to_markdown
from gameday.run.judge import judge
from gameday.run.results import ScenarioResult

SCENARIO = """
name: feature-store-down
timeline: {baseline: 20s, fault: 25s, recovery: 15s}
faults:
  - {injector: network.down, target: feature-store}
expect:
  - pages: {receiver: platform-oncall, at_most: 1}
  - pages: {receiver: model-team, exactly: 0}
  - inhibited: {alert: ModelLatencyHigh, by: FeatureStoreDown}
"""

DOWN = '{}:{alertname="FeatureStoreDown"}'
ERRORS = '{}:{alertname="FeatureStoreErrors"}'
RANKER = {"model": "ranker"}


def paged_twice() -> EvidenceBuilder:
    """platform-oncall paged twice (one group repeated, then resolved; a second group later),
    model-team never, ModelLatencyHigh inhibited by FeatureStoreDown; the fault is +20..45 s."""
    return (
        EvidenceBuilder(SCENARIO)
        .sink()
        .notification(25, "platform-oncall", DOWN, ["FeatureStoreDown"])
        .notification(40, "platform-oncall", DOWN, ["FeatureStoreDown"])
        .notification(50, "platform-oncall", DOWN, ["FeatureStoreDown"], status="resolved")
        .notification(31, "platform-oncall", ERRORS, ["FeatureStoreErrors"])
        .am_status("ModelLatencyHigh", 26, 44, inhibited_by=["FeatureStoreDown"], labels=RANKER)
    )


def result_of(b: EvidenceBuilder) -> ScenarioResult:
    evidence = b.build()
    return ScenarioResult(b.scenario, evidence, judge(b.scenario, evidence))


def page_of(b: EvidenceBuilder) -> str:
    return render_html(collect(result_of(b)))


def panel(page: str) -> str:
    """The "Who was paged" section of a report page."""
    found = re.search(r'<section class="paging">.*?</section>', page, flags=re.S)
    assert found, "the report has a who-was-paged panel"
    return found.group(0)


def chart(page: str) -> ET.Element:
    [svg] = re.findall(r'<svg [^>]*class="chart paging".*?</svg>', page, flags=re.S)
    return ET.fromstring(svg)


def titled(svg: ET.Element, kind: str) -> list[str]:
    """The hover titles of the chart's elements of class ``kind``."""
    return ["".join(e.itertext()) for e in svg.iter() if kind in (e.get("class") or "").split()]


def receiver_row(page: str, receiver: str) -> str:
    [row] = re.findall(rf'<tr class="receiver"><td><span class="name">{receiver}<.*?</tr>', page)
    return row


def test_a_receiver_paged_twice_shows_two_groups_with_repeats_and_resolved() -> None:
    page = page_of(paged_twice())
    groups = titled(chart(page), "page")
    assert groups == [
        f"platform-oncall, group {DOWN}: FeatureStoreDown: first +25.0 s, 1 repeat,"
        " resolved +50.0 s",
        f"platform-oncall, group {ERRORS}: FeatureStoreErrors: first +31.0 s, 0 repeats,"
        " not resolved",
    ]
    assert titled(chart(page), "repeat") == ["repeat +40.0 s"]
    assert titled(chart(page), "resolved") == ["resolved +50.0 s"]
    row = receiver_row(page, "platform-oncall")
    assert "<td>2</td>" in row and row.count('class="group"') == 2
    assert "expected: at most 1" in row


def test_a_receiver_the_scenario_names_that_got_nothing_is_not_paged() -> None:
    page = page_of(paged_twice())
    svg = chart(page)
    labels = [e.text for e in svg.iter() if e.tag.endswith("text")]
    assert "model-team (exactly 0)" in labels
    assert titled(svg, "not-paged") == ["not paged"]
    assert not [t for t in titled(svg, "page") if t.startswith("model-team")]
    row = receiver_row(page, "model-team")
    assert "<td>0</td>" in row and "not paged during fault and recovery" in row


def test_a_receiver_paged_only_outside_fault_and_recovery_is_listed_not_paged() -> None:
    """Pages are counted as the pages expectation counts them: in fault and recovery only."""
    b = paged_twice().webhook(5, "ml-oncall", "ServiceDown")  # during the baseline
    row = receiver_row(page_of(b), "ml-oncall")
    assert "<td>0</td>" in row and "not paged during fault and recovery" in row


def test_an_inhibited_alert_names_its_inhibitor_and_when() -> None:
    page = page_of(paged_twice())
    [held] = titled(chart(page), "inhibited")
    assert (
        held == "ModelLatencyHigh model=ranker: inhibited by FeatureStoreDown, +26.0 s to +44.0 s"
    )
    table = re.search(r'<table class="held">.*?</table>', panel(page), flags=re.S)
    assert table is not None
    assert (
        '<tr class="held inhibited"><td>ModelLatencyHigh</td><td>model=ranker</td>'
        "<td>inhibited by FeatureStoreDown</td><td>+26.0 s</td><td>+44.0 s</td></tr>"
    ) in table.group(0)


def test_a_silenced_alert_names_its_silence() -> None:
    b = paged_twice()
    evidence = b.build()
    silenced = AlertStatusEvidence(
        labels={"alertname": "DiskFull"}, state="suppressed", silenced_by=("5f2c-9a",),
        first_seen=b.t0 + 30, last_seen=b.t0 + 35,
    )  # fmt: skip
    notes = evidence.notifications
    notes = notes.model_copy(update={"statuses": (*notes.statuses, silenced)})
    evidence = evidence.model_copy(update={"notifications": notes})
    page = render_html(collect(ScenarioResult(b.scenario, evidence, [])))
    assert "<td>DiskFull</td><td></td><td>silenced (silence 5f2c-9a)</td><td>+30.0 s</td>" in page


def test_without_the_sink_read_the_panel_says_it_cannot_tell_instead_of_nobody() -> None:
    """Alertmanager's API was read, the webhook sink was not: pages are unknown, not 0."""
    b = EvidenceBuilder(SCENARIO).sighting(24, "FeatureStoreDown", ["platform-oncall"])
    page = page_of(b)
    section = panel(page)
    assert "Who was paged cannot be told" in section
    assert "webhook sink was not read" in section
    assert 'class="chart paging"' not in section
    assert "not paged" not in section and "<td>0</td>" not in section


def test_a_sink_read_with_no_delivery_shows_every_named_receiver_not_paged() -> None:
    page = page_of(EvidenceBuilder(SCENARIO).sink())
    assert "Who was paged cannot be told" not in page
    assert titled(chart(page), "not-paged") == ["not paged", "not paged"]
    assert "Alertmanager&#39;s API was not polled" in panel(page)


def test_a_run_with_no_notification_evidence_and_no_paging_expectation_has_no_panel() -> None:
    b = EvidenceBuilder(
        "name: quiet\nfaults: [{injector: network.down, target: feature-store}]\n"
        "expect: [{alert: ModelLatencyHigh, fires_within: 30s}]\n"
    )
    page = page_of(b)
    assert "Who was paged" not in page
    suite = to_junit([result_of(b)]).find("testsuite")
    assert suite is not None
    names = [p.get("name") or "" for p in suite.iter("property")]
    assert not [n for n in names if n.startswith("gameday.")]


def test_secrets_in_what_alertmanager_sent_are_masked() -> None:
    hook = {"webhook": "https://bot:s3cr3t-pass@hooks.example.org/x"}
    b = paged_twice().am_status("ChatDown", 30, 40, inhibited_by=["FeatureStoreDown"], labels=hook)
    page = page_of(b)
    assert "s3cr3t-pass" not in page
    assert "https://bot:***@hooks.example.org/x" in panel(page)


def properties(result: ScenarioResult) -> dict[str, str]:
    suite = to_junit([result]).find("testsuite")
    assert suite is not None
    return {p.get("name", ""): p.get("value", "") for p in suite.iter("property")}


def test_junit_properties_count_pages_per_receiver_and_held_back_alerts() -> None:
    props = properties(result_of(paged_twice()))
    paging = {k: v for k, v in props.items() if k.startswith("gameday.")}
    assert paging == {
        "gameday.pages.platform-oncall": "2",
        "gameday.pages.model-team": "0",
        "gameday.inhibited": "1",
        "gameday.silenced": "0",
    }


def test_junit_says_unknown_where_the_run_could_not_read_it() -> None:
    props = properties(result_of(EvidenceBuilder(SCENARIO)))
    assert props["gameday.pages"] == "unknown: gameday's webhook sink was not read"
    assert props["gameday.inhibited"] == "unknown: Alertmanager's API was not polled"
    assert not [k for k in props if k.startswith("gameday.pages.")]


def test_markdown_row_counts_pages_per_receiver() -> None:
    text = to_markdown([result_of(paged_twice()), result_of(EvidenceBuilder(SCENARIO))])
    assert "| detection | pages |" in text
    read, unread = [line for line in text.splitlines() if line.startswith("| feature-store")]
    assert read.endswith("| platform-oncall 2, model-team 0; 1 inhibited |")
    assert unread.endswith("| unknown (webhook sink not read) |")
