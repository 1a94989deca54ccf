"""Strip credentials from URLs before they are written anywhere.

Two forms are common in the conda world: `scheme://user:pass@host/...` and anaconda.org
tokens, `.../t/<token>/...`. Both are removed; the rest of the URL stays as it was.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
_TOKEN = re.compile(r"/t/[^/\s]+(?=/|$)")


def redact_url(url: str) -> str:
    """Return `url` without `user:pass@` and without a `/t/<token>` path segment."""
    url = _USERINFO.sub(r"\g<scheme>", url)
    return _TOKEN.sub("", url)


def has_credentials(url: str) -> bool:
    """True when `url` carries a userinfo part or an anaconda.org token."""
    return redact_url(url) != url
