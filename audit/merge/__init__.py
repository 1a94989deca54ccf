"""`repro-audit merge-lock`: a git merge driver that merges conda-lock.yml instead of
leaving conflict markers in it.

`threeway` merges the three lock documents per (platform, manager, name) and metadata
per field (pure); `envmerge` rebuilds the merged environment.yml from git; `resolve`
re-solves, both sides' records preferred, when a per-package merge is not enough;
`run` is the driver for conda-lock.yml; `explicit` derives each explicit
`conda-<platform>.lock` from the merged conda-lock.yml; `memo` lets every driver of one
`git merge` share one re-solve; `driver` tells the files apart.
"""

from audit.merge.driver import merge_file
from audit.merge.outcome import MergeResult
from audit.merge.run import merge_lock

__all__ = ["MergeResult", "merge_file", "merge_lock"]
