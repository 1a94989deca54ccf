"""Credentials in URLs: `user:pass@host` or an anaconda.org `/t/<token>/`, in any file read.

Only literal secrets are findings: `${VAR}` placeholders (`https://${USER}:${PASS}@host`,
`/t/${TOKEN}/`) are the recommended way to name credentials and are fine.

A secret committed to git is leaked already, but a finding in the pull request stops it
from merging. The message shows the URL redacted, never the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from audit.check.run import Finding, finding
from audit.core.redact import has_credentials, redact_url

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# only URLs that could hold a secret are worth a closer look: cheap pre-filter
_SUSPECT = re.compile(r"://[^/\s@'\"]*@|/t/[^/\s]+")


def scan_text(name: str, text: str) -> Iterator[Finding]:
    """A finding per line of `text` that holds a URL with credentials."""
    if not _SUSPECT.search(text):
        return
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(",;)]")
        while url.endswith("}") and url.count("}") > url.count("{"):
            url = url[:-1]
        if has_credentials(url):
            line = text.count("\n", 0, match.start()) + 1
            yield finding(
                "RA010",
                name,
                line,
                f"URL carries credentials: {redact_url(url)} (use ${{VAR}} placeholders or "
                "an auth file; rotate the leaked secret)",
            )
