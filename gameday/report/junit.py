"""JUnit XML for CI systems: a ``<testsuite>`` per scenario, a ``<testcase>`` per check.

A failed check is a ``<failure message="detail">`` (its evidence as the element's text); an
aborted run adds a ``<testcase name="run">`` carrying an ``<error>`` with the reason, so CI
shows "broken environment" apart from "the monitoring missed it". Written with
``xml.etree``: the attribute and text escaping is the library's.
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
from gameday.run.results import ABORTED, ScenarioResult, summary
from gameday.verifiers.base import Check

ABORTED_CASE = "run"


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
    rec = result.record
    took = (rec.finished_at or rec.started_at) - rec.started_at
    suite = ET.Element(
        "testsuite",
        name=result.scenario.name,
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(rec.started_at)),
        hostname=socket.gethostname(),
        time=f"{took:.3f}",
    )
    _properties(suite, result)
    classname = f"gameday.{result.scenario.name}"
    if result.verdict == ABORTED:
        case = ET.SubElement(suite, "testcase", classname=classname, name=ABORTED_CASE, time="0")
        reason = redact_text(rec.aborted or "aborted")
        ET.SubElement(case, "error", message=reason, type="aborted").text = reason
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
    if result.scenario.source:
        values["file"] = str(result.scenario.source)
    for name, value in values.items():
        if value:
            ET.SubElement(props, "property", name=name, value=value)


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
