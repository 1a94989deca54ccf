#!/usr/bin/env bash
# Run repro-audit on the bundled example (fixtures/example), offline: build the example
# conda channel, lock the example environment against it, and check the lock.
# Output goes to ./out/example (or $1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
OUT="$(mkdir -p "${1:-$ROOT/out/example}" && cd "${1:-$ROOT/out/example}" && pwd)"
cd "$OUT"
export REPRO_AUDIT_CACHE_DIR="$OUT/.cache"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "build the example conda channel (deterministic, offline)"
python "$ROOT/fixtures/make_channel.py" "$OUT/channel" >/dev/null
cp "$ROOT/fixtures/example/environment.yml" "$OUT/environment.yml"
echo "channel: $OUT/channel"

step "repro-audit lock"
repro-audit lock -f environment.yml -c ./channel
step "repro-audit lock --check (nothing changed: exit 0)"
repro-audit lock -f environment.yml -c ./channel --check
head -n 6 conda-linux-64.lock
