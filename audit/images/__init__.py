"""Image references in Dockerfiles and compose files: parse, resolve to digests, pin, lock.

Pure parsing lives in `dockerfile`, `compose` and `reference`; the network is confined to
`registry` (and `credentials`); `pin` ties them together for the CLI.
"""
