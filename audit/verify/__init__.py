"""`repro-audit verify RECORD`: does the build a record describes still reproduce?

Two depths, one verdict:

* static (default, fast): every input the record names still exists. Each locked artifact
  URL gets a HEAD (a ranged GET when HEAD is refused) concurrently; a copy in the local
  cache or the mirror is re-hashed; `--deep` downloads and hashes every artifact. Each base
  image digest is asked of its registry. The lock must still parse with today's tool and
  hash to what the record says. A 404/410 is a finding; a host that does not answer is
  infrastructure (exit 3) unless the mirror holds the thing.
* `--rebuild`: build again from the recorded inputs only — the lock as recorded (sha256
  checked), the base by its recorded digest, artifacts by sha256 from the cache, mirror
  or URL, the recorded platform, prefix and SOURCE_DATE_EPOCH, a fresh stage — and compare
  the environment layer diff_id, the inventory and the labels with the record.

Verdicts (exit 0 for the first two, 1 for the others, 3 when the check could not run):

* AVAILABLE — static only: every input is still there and verifies (a rebuild proves more);
* REPRODUCED — the environment layer is bit-identical and the inventory is the same;
  `image_identical` says the whole image id matched too (the strongest result);
* EQUIVALENT — the same packages, other bytes (what differs is listed);
* DRIFTED — the inventory differs (the classified diff, as `repro-audit diff` gives it);
* UNREPRODUCIBLE — an input is missing or does not verify (each one listed).

The mirror (`audit.verify.mirror`) turns "gone upstream" into "still here": an artifact or base
image that its upstream lost but the mirror holds, verified, does not block a verdict.

Layout: `verdict` (the verdict model, pure), `options`, `inputs` (the record's files,
artifacts and bases), `gitrev` (`git:REV` records), `static` (availability checks),
`mirroring` (`--write-mirror`), `rebuild` (`--rebuild` and its comparison), `run` (the
command as one function) and `render` (the human report).
"""

from audit.verify.options import VerifyOptions
from audit.verify.rebuild import builder_images
from audit.verify.render import render_text
from audit.verify.run import run_verify
from audit.verify.verdict import GONE, MISMATCH, Problem, Rebuild, Verdict, decide

__all__ = [
    "GONE",
    "MISMATCH",
    "Problem",
    "Rebuild",
    "Verdict",
    "VerifyOptions",
    "builder_images",
    "decide",
    "render_text",
    "run_verify",
]
