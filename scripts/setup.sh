#!/usr/bin/env bash
# Everything a fresh Debian machine needs to run repro-audit, its example and its tests.
# Idempotent: installs only what is missing. Sourced by example.sh and test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${REPRO_AUDIT_VENV:-$ROOT/.venv}"

apt_packages=(docker.io docker-registry busybox-static apache2-utils git rpm)
if [ "${REPRO_AUDIT_BROWSER:-1}" = 1 ]; then apt_packages+=(chromium fonts-dejavu-core); fi

install_system_packages() {
  local missing=()
  for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install_python_packages() {
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.repro-audit-installed"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "setup: installing Python dependencies into $VENV" >&2
    if ! { "$VENV/bin/pip" install -q --upgrade pip && "$VENV/bin/pip" install -q -e "$ROOT[test,docs]"; } \
        >"$VENV/pip-install.log" 2>&1; then
      cat "$VENV/pip-install.log" >&2
      return 1
    fi
    touch "$stamp"
  fi
  # An editable install compiles nothing, and with PYTHONDONTWRITEBYTECODE=1 (CI images set
  # it) every run would compile the package again (~0.1 s a start): compile it as a wheel
  # install would. A module edited later is compiled in memory until this runs again.
  "$VENV/bin/python" -m compileall -q -j 0 "$ROOT/audit" >/dev/null
}

# BuildKit for `build`: the buildx plugin where the distribution packages it (Debian 13,
# Ubuntu: docker-buildx), else docker.io's own client, which has BuildKit built in
# (Docker 20.10). A newer client without buildx earlier on PATH refuses BuildKit; `build`
# probes every client, so only check that one of them can.
ensure_buildkit() {
  local client
  for client in $(type -ap docker) $(dpkg -L docker.io 2>/dev/null | grep 'bin/docker$'); do
    "$client" buildx version >/dev/null 2>&1 && return 0
    DOCKER_BUILDKIT=1 "$client" build --help >/dev/null 2>&1 && return 0
  done
  if apt-cache show docker-buildx >/dev/null 2>&1; then
    apt_packages=(docker-buildx)
    install_system_packages
    return 0
  fi
  echo "setup: no docker client with BuildKit; build falls back to the classic builder" >&2
}

start_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "setup: dockerd is not installed" >&2; return 1
  fi
  echo "setup: starting dockerd" >&2
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo sh -c 'nohup dockerd >/tmp/repro-audit-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "setup: dockerd did not start; see /tmp/repro-audit-dockerd.log" >&2
  return 1
}

setup_all() {
  install_system_packages
  ensure_buildkit
  install_python_packages
  start_docker
  export PATH="$VENV/bin:$PATH"
}

# Run directly (`bash scripts/setup.sh`), it sets everything up; sourced, it only defines.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  setup_all
  echo "setup: done; activate with: source $VENV/bin/activate" >&2
fi
