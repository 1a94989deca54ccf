#!/usr/bin/env bash
# Set up everything (system packages, dockerd, Python venv), then run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
cd "$ROOT"
ruff check .
lint-imports --no-cache  # the architecture contracts in pyproject.toml
exec pytest -q -p no:cacheprovider "$@"
