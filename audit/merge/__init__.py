"""`repro-audit merge-lock`: a git merge driver that merges conda-lock.yml instead of
leaving conflict markers in it.

`threeway` merges the three lock documents per (platform, manager, name) and metadata
per field (pure); `envmerge` rebuilds the merged environment.yml from git; `resolve`
re-solves, both sides' records preferred, when a per-package merge is not enough;
`run` is the driver.
"""

from audit.merge.run import MergeResult, merge_lock

__all__ = ["MergeResult", "merge_lock"]
