"""`repro-audit reconstruct`: the lock an unlocked environment.yml would have had, then.

`run` solves the file committed at a revision as of the commit's date (the solver's
`exclude_newer`) and writes the lock to a path the user names; `agree` compares such a
lock with an image or build record (REPRODUCED / EQUIVALENT / DRIFTED), which is how
`verify --lock` checks an image built months ago from an environment that was never locked.
"""

from audit.reconstruct.agree import Agreement, agree, render_agreement
from audit.reconstruct.run import ReconstructOptions, ReconstructResult, run_reconstruct

__all__ = [
    "Agreement",
    "ReconstructOptions",
    "ReconstructResult",
    "agree",
    "render_agreement",
    "run_reconstruct",
]
