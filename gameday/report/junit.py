"""JUnit XML for CI systems: a ``<testsuite>`` per scenario, a ``<testcase>`` per check.

A failed check is a ``<failure message="detail">`` (its evidence as the element's text); an
aborted or inconclusive run adds a ``<testcase>`` named after its verdict carrying an
``<error>`` with the reason, so CI shows "broken environment" or "the fault changed nothing"
apart from "the monitoring missed it"; any other run without a check fails a ``checks``
testcase (nothing verified is never a pass). Each suite's properties say who was paged
(:func:`paging_properties`). Written with ``xml.etree``: the attribute and text escaping is
the library's.
"""

from __future__ import annotations

import json
import os
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from gameday.redaction import redact, redact_text
from gameday.report.paging import who_was_paged
from gameday.run.results import ABORTED, INCONCLUSIVE, ScenarioResult, summary
from gameday.verifiers.base import Check

NO_CHECKS = "checks"  # the testcase that fails a run with no check at all


def to_junit(results: Iterable[ScenarioResult]) -> ET.Element:
    """The ``<testsuites>`` element of a batch, with totals summed over the suites."""
    root = ET.Element("testsuites", name="gameday")
    suites = [_suite(r) for r in results]
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")
    root.extend(suites)
    return root


def _suite(result: ScenarioResult) -> ET.Element:
    took = result.finished_at - result.started_at
    suite = ET.Element(
        "testsuite",
        name=result.scenario.name,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(result.started_at)),
        hostname=socket.gethostname(),
        time=f"{took:.3f}",
    )
    _properties(suite, result)
    classname = f"gameday.{result.scenario.name}"
    if result.verdict in (ABORTED, INCONCLUSIVE):
        case = ET.SubElement(suite, "testcase", classname=classname, name=result.verdict, time="0")
        reason = redact_text(result.reason or result.verdict)
        ET.SubElement(case, "error", message=reason, type=result.verdict).text = reason
    elif not result.checks:
        case = ET.SubElement(suite, "testcase", classname=classname, name=NO_CHECKS, time="0")
        why = "the run produced no check: nothing was verified"
        ET.SubElement(case, "failure", message=why, type="no checks").text = why
    for check in result.checks:
        suite.append(_case(classname, check))
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
    suite.set("skipped", "0")
    ET.SubElement(suite, "system-out").text = redact_text(summary(result))
    return suite


def _properties(suite: ET.Element, result: ScenarioResult) -> None:
    props = ET.SubElement(suite, "properties")
    values = {"verdict": result.verdict, "runbook": result.scenario.runbook}
    if result.evidence.scenario_file:
        values["file"] = result.evidence.scenario_file
    if result.run_dir is not None:
        values["run_dir"] = str(result.run_dir)
    values.update(paging_properties(result))
    for name, value in values.items():
        if value:
            ET.SubElement(props, "property", name=name, value=value)


def paging_properties(result: ScenarioResult) -> dict[str, str]:
    """``gameday.pages.<receiver>``: the pages each receiver got (as the ``pages`` expectation
    counts them), ``gameday.inhibited`` and ``gameday.silenced``: the alert instances
    Alertmanager held back; ``unknown: ...`` where the run could not read them. Empty for a
    run that says nothing about paging."""
    paging = who_was_paged(result)
    if paging is None:
        return {}
    counts = paging.counts()
    if counts is None:
        values = {"gameday.pages": "unknown: gameday's webhook sink was not read"}
    else:
        values = {f"gameday.pages.{receiver}": str(n) for receiver, n in counts.items()}
    unpolled = "unknown: Alertmanager's API was not polled"
    for how, n in (("inhibited", paging.inhibited), ("silenced", paging.silenced)):
        values[f"gameday.{how}"] = unpolled if n is None else str(n)
    return values


def _case(classname: str, check: Check) -> ET.Element:
    case = ET.Element("testcase", classname=classname, name=check.name, time="0")
    if not check.passed:
        kind = check.kind if check.decided else f"{check.kind} (undecided)"
        detail = redact_text(check.detail)
        failure = ET.SubElement(case, "failure", message=detail, type=kind)
        evidence = json.dumps(redact({**check.evidence, **check.extra}), indent=2, default=str)
        failure.text = f"{detail}\n\nevidence:\n{evidence}"
    return case


def write_junit(path: str | Path, results: Iterable[ScenarioResult]) -> None:
    """Write the JUnit XML file atomically (a CI reader never sees half a file)."""
    root = to_junit(results)
    ET.indent(root)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, target)
