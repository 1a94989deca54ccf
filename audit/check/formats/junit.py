"""Check result → JUnit XML: one test case per rule, failing when the rule found something.

CI systems that only understand test reports (GitLab, Jenkins, Azure) then show each rule
as a test; each finding is a line of its failure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from audit.check.run import RULES, CheckResult


def format_junit(result: CheckResult) -> str:
    if result.error is not None:
        return _failed(result.error)
    by_rule: dict[str, list] = {rule_id: [] for rule_id in RULES}
    for f in result.findings:
        by_rule.setdefault(f.rule_id, []).append(f)
    failing = [r for r, found in by_rule.items() if any(f.level != "note" for f in found)]
    suites = ET.Element("testsuites", name="repro-audit check")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="repro-audit check",
        tests=str(len(by_rule) + len(result.unchecked)),
        failures=str(len(failing)),
        errors="0",
        skipped=str(len(result.unchecked)),
    )
    for rule_id, found in by_rule.items():
        rule = RULES[rule_id]
        case = ET.SubElement(
            suite, "testcase", classname="repro-audit.check", name=f"{rule_id} {rule.name}"
        )
        if rule_id in failing:
            failure = ET.SubElement(
                case,
                "failure",
                type=rule.name,
                message=f"{len(found)} finding(s): {rule.summary}",
            )
            failure.text = "\n".join(f"{f.where}: {f.level}: {f.message}" for f in found)
        elif found:
            ET.SubElement(case, "system-out").text = "\n".join(
                f"{f.where}: {f.level}: {f.message}" for f in found
            )
    for item in result.unchecked:  # --online could not ask: skipped, not passed
        case = ET.SubElement(
            suite, "testcase", classname="repro-audit.check.online", name=item.what
        )
        ET.SubElement(case, "skipped", message=f"{item.where}: {item.message}")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _failed(message: str) -> str:
    """A run that could check nothing: one test case in error, saying why."""
    suites = ET.Element("testsuites", name="repro-audit check")
    suite = ET.SubElement(
        suites, "testsuite", name="repro-audit check", tests="1", failures="0", errors="1"
    )
    case = ET.SubElement(suite, "testcase", classname="repro-audit.check", name="run")
    ET.SubElement(case, "error", type="input", message=message).text = message
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"
