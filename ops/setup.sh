#!/usr/bin/env bash
# ops/setup.sh - install what Vigil's build and tests need (Debian bookworm).
#
# Idempotent: checks first, installs only what is missing, so a second run
# takes about a second. Needs root (or sudo) only when something is missing.
#
#   ops/setup.sh            build + test dependencies
#   ops/setup.sh --minimal  only what building and the demo need
set -euo pipefail

minimal=0
case "${1:-}" in
  --minimal) minimal=1 ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

pkgs=(build-essential cmake pkg-config
      librdkafka-dev libavro-dev libsqlite3-dev libjansson-dev libssl-dev
      libmicrohttpd-dev libjemalloc-dev zlib1g-dev)
if [ "$minimal" -eq 0 ]; then
  pkgs+=(libcmocka-dev kcat python3 python3-venv default-jre-headless maven
         sqlite3 curl chromium clang libclang-rt-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Java and Maven may come from elsewhere than Debian (e.g. a preinstalled JDK);
# only insist that the commands exist.
if [ "$minimal" -eq 0 ]; then
  for c in java mvn python3; do
    command -v "$c" >/dev/null || { echo "setup: '$c' not found after install" >&2; exit 1; }
  done
fi
# Independent implementations used by the tests (fastavro, prometheus_client)
# live in a venv outside the repo.
if [ "$minimal" -eq 0 ]; then
  venv="${VIGIL_CACHE:-$HOME/.cache/vigil}/venv"
  req="$(dirname "$0")/requirements-test.txt"
  stamp="$venv/.requirements"
  if ! cmp -s "$req" "$stamp" 2>/dev/null; then
    echo "setup: creating Python venv $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
fi
echo "setup: ok" >&2
