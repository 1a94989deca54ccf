"""Strip credentials from URLs before they are written anywhere.

Two forms are common in the conda world: `scheme://user:pass@host/...` and anaconda.org
tokens, `.../t/<token>/...`. Both are removed; the rest of the URL stays as it was.
`${VAR}` placeholders (`https://${USER}:${PASS}@host`, `/t/${TOKEN}/`) are not secrets
but the recommended way to name them, so `redact_url` keeps them (as conda-lock does);
`strip_credentials` removes those too, for URLs that cache keys and files are named after.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/@\s]*)@")
_TOKEN = re.compile(r"/t/(?P<token>[^/\s]+)(?=/|$)")
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _is_placeholder(text: str) -> bool:
    return bool(text) and not _PLACEHOLDER.sub("", text)


def _safe_userinfo(info: str) -> bool:
    """`${U}:${P}` and `${TOKEN}` are safe; anything with a literal secret is not."""
    user, sep, password = info.partition(":")
    return _is_placeholder(password) if sep else _is_placeholder(user)


def redact_url(url: str) -> str:
    """`url` without a literal `user:pass@` or `/t/<token>` (placeholders are kept)."""
    url = _USERINFO.sub(
        lambda m: m.group(0) if _safe_userinfo(m.group("info")) else m.group("scheme"), url
    )
    return _TOKEN.sub(lambda m: m.group(0) if _is_placeholder(m.group("token")) else "", url)


def strip_credentials(url: str) -> str:
    """`url` without any userinfo or token segment, placeholders included."""
    return _TOKEN.sub("", _USERINFO.sub(r"\g<scheme>", url))


def has_credentials(url: str) -> bool:
    """True when `url` carries a literal secret: a userinfo part or an anaconda.org token."""
    return redact_url(url) != url
