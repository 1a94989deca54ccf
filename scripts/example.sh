#!/usr/bin/env bash
# Run repro-audit on the bundled example (fixtures/example), offline, end to end:
# lock the example environment against a locally built conda channel, pin the example
# Dockerfile against a local registry, build the locked image, list what it holds, check
# the project, let "time pass" (newer packages upstream, the base tag moved), report the
# drift, and verify that the build still reproduces. Output goes to ./out/example (or $1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
setup_all
OUT="$(mkdir -p "${1:-$ROOT/out/example}" && cd "${1:-$ROOT/out/example}" && pwd)"
cd "$OUT"
export REPRO_AUDIT_CACHE_DIR="$OUT/.cache"
REGISTRY_DIR="$OUT/.registry"
trap 'python "$ROOT/fixtures/example_registry.py" stop "$REGISTRY_DIR"' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() {  # expect CODE CMD...: run CMD, fail the example unless it exits with CODE
  local want=$1 rc=0; shift
  "$@" || rc=$?
  if [ "$rc" != "$want" ]; then echo "example: '$*' exited $rc, expected $want" >&2; exit 1; fi
}

step "build the example conda channel (deterministic, offline)"
rm -rf channel .git today reconstructed.yml
python "$ROOT/fixtures/make_channel.py" "$OUT/channel" >/dev/null
# the example names conda-forge; offline, its packages come from the local channel instead
sed 's#^  - conda-forge$#  - ./channel#' "$ROOT/fixtures/example/environment.yml" > environment.yml
echo "channel: $OUT/channel"

step "repro-audit lock"
repro-audit lock
step "repro-audit lock --check (nothing changed: exit 0)"
repro-audit lock --check
head -n 6 conda-linux-64.lock

step "a local registry with the example base image"
HOST="$(python "$ROOT/fixtures/example_registry.py" start "$REGISTRY_DIR")"
python "$ROOT/fixtures/example_registry.py" push-base "$HOST" >/dev/null
sed "s/@REGISTRY@/$HOST/" "$ROOT/fixtures/example/Dockerfile.in" > Dockerfile
echo "registry: $HOST"

step "repro-audit pin"
repro-audit pin -f Dockerfile
grep -n "FROM" Dockerfile

step "repro-audit build"
repro-audit build -f Dockerfile -t repro-audit-example:latest --record build-record.json

step "repro-audit inventory (the built image, read layer by layer)"
repro-audit inventory docker-daemon:repro-audit-example:latest

step "repro-audit check (the pre-merge gate: all in order, exit 0)"
repro-audit check .

step "commit the project (dated December 2024, when the build ran), then let time pass"
git init -q . && git add environment.yml conda-lock.yml conda-*.lock Dockerfile image-lock.json \
  build-record.json && GIT_COMMITTER_DATE=2024-12-01T12:00:00Z GIT_AUTHOR_DATE=2024-12-01T12:00:00Z \
  git -c user.name=example -c user.email=example@localhost commit -qm "example environment"
python "$ROOT/fixtures/make_channel.py" "$OUT/channel" --newer >/dev/null
python "$ROOT/fixtures/example_registry.py" push-base "$HOST" --seed "months later" >/dev/null
echo "the channel gained numpy 2.1.0, six 1.17.0, tzdata 2025a; the base tag now points elsewhere"

step "repro-audit drift (exit 1: there is drift; report in drift.html)"
expect 1 repro-audit drift --report drift.html

step "months later: the lock environment.yml would have had on its commit's date"
repro-audit reconstruct git:HEAD -o reconstructed.yml
step "verify the image against the reconstructed lock (REPRODUCED, exit 0)"
repro-audit verify build-record.json --lock reconstructed.yml
repro-audit verify docker-daemon:repro-audit-example:latest --lock reconstructed.yml
step "the same environment.yml solved today would not have built this image (DRIFTED, exit 1)"
mkdir -p today && repro-audit lock --lockfile today/conda-lock.yml --no-explicit >/dev/null 2>&1
expect 1 repro-audit verify build-record.json --lock today/conda-lock.yml

if repro-audit verify --help >/dev/null 2>&1; then
  step "repro-audit verify --rebuild (the pinned, locked build still reproduces)"
  repro-audit verify build-record.json --rebuild
fi
echo
echo "example: done; outputs in $OUT"
