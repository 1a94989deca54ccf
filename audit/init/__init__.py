"""`repro-audit init`: set a repository up for repro-audit, idempotently.

What a team otherwise copies from the docs: the merge driver for every lock file
(`.gitattributes`, plus the per-clone `git config`), the pre-commit hook, and CI for the
gate on pull requests, the weekly drift report and `verify` of the last build record.
Each piece is planned as a change first (`audit.init.plan`), so `--dry-run` shows exactly
what a run would write and a second run finds nothing to do.
"""

from __future__ import annotations

from audit.init.plan import ConfigChange, FileChange, Plan
from audit.init.run import InitOptions, apply_plan, plan_init

__all__ = ["ConfigChange", "FileChange", "InitOptions", "Plan", "apply_plan", "plan_init"]
