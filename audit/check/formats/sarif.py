"""Check result → SARIF 2.1.0 for GitHub code scanning (validated against the schema in tests).

Every rule is listed in the driver (so code scanning shows its name and help), results
point at repository-relative URIs under `%SRCROOT%` (left for the consumer to bind: no
path of this machine is written), with a region when the line is known. What `--online`
could not ask about is a tool execution notification, not a result.
"""

from __future__ import annotations

from typing import Any

from audit import __version__
from audit.check.run import RULES, CheckResult, Rule
from audit.core.jsonout import dumps

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
HELP_URI = "https://github.com/repro-audit/repro-audit#check"


def sarif_document(result: CheckResult) -> dict[str, Any]:
    rule_ids = list(RULES)
    rules = [_rule(rule) for rule in RULES.values()]
    results = []
    for f in result.findings:
        location: dict[str, Any] = {"artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"}}
        if f.line:
            location["region"] = {"startLine": f.line}
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": rule_ids.index(f.rule_id),
                "level": f.level,
                "message": {"text": f.message},
                "locations": [{"physicalLocation": location}],
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "repro-audit",
                        "version": __version__,
                        "informationUri": HELP_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    "%SRCROOT%": {"description": {"text": "the repository root"}}
                },
                "invocations": [
                    {
                        "executionSuccessful": result.error is None,
                        "exitCode": result.exit_code,
                        "toolExecutionNotifications": [
                            *([_failure(result.error)] if result.error is not None else []),
                            *(_notification(u) for u in result.unchecked),
                        ],
                    }
                ],
                "results": results,
            }
        ],
    }


def _failure(message: str) -> dict[str, Any]:
    """Why the run checked nothing: the upload still gets a whole document."""
    return {"level": "error", "message": {"text": message}}


def _notification(item: Any) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": item.file, "uriBaseId": "%SRCROOT%"}}
    if item.line:
        location["region"] = {"startLine": item.line}
    return {
        "level": "warning",
        "message": {"text": item.message},
        "locations": [{"physicalLocation": location}],
    }


def _rule(rule: Rule) -> dict[str, Any]:
    """A reportingDescriptor: name, summary, help (the fix), tags, default level."""
    help_text = f"{rule.summary}. Fix: {rule.hint}" if rule.hint else rule.summary
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": help_text},
        "help": {
            "text": help_text,
            "markdown": f"**{rule.id} {rule.name}**: {rule.summary}."
            + (f"\n\nFix: {rule.hint}" if rule.hint else ""),
        },
        "helpUri": f"{HELP_URI}-rules",
        "defaultConfiguration": {"level": rule.level},
        "properties": {
            "tags": list(rule.tags),
            "precision": "high",
            "problem.severity": rule.level if rule.level != "note" else "recommendation",
        },
    }


def format_sarif(result: CheckResult) -> str:
    return dumps(sarif_document(result))
