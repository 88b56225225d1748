#!/usr/bin/env bash
# Write the lock files from the human-edited inputs: every package of every environment pinned, with sha256 hashes.
#
#   bash scripts/lock.sh             # after editing a requirements-*.in: re-resolve, keeping every other pin
#   bash scripts/lock.sh --upgrade   # move every unpinned (transitive) package to its newest release
#
#   requirements-dev.in   -> requirements-dev.lock.txt    (.venv; also the wheels bundled in the zip)
#   requirements-bpy42.in -> requirements-bpy42.lock.txt  (.venv42)
#   requirements-sdk3.in  -> requirements-sdk3.lock.txt   (.venv-sdk3)
#
# uv (pinned in requirements-dev.in; setup_env.sh puts it in .venv-uv and .venv) resolves for CPython 3.11 on Linux, from PyPI only. The other
# two locks are constrained to the dev lock's versions (except the packages their own input names), so every venv
# tests the same requests/boto3/urllib3/... that build_extension.py bundles. scripts/setup_env.sh installs the locks
# and rebuilds a venv whenever its lock changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV="${UV:-}"
if [ -z "$UV" ]; then
  if [ -x .venv-uv/bin/uv ]; then UV=.venv-uv/bin/uv; elif [ -x .venv/bin/uv ]; then UV=.venv/bin/uv
  elif command -v uv >/dev/null; then UV=uv; else
    echo "[lock] uv not found: run bash scripts/setup_env.sh first (it installs uv into .venv), or set UV=..." >&2
    exit 1
  fi
fi
extra=()
case "${1:-}" in
  --upgrade) extra=(--upgrade) ;;
  "") ;;
  *) echo "usage: $0 [--upgrade]" >&2; exit 2 ;;
esac

PINS=dist/lock/dev-pins.txt  # the dev lock's versions as constraints for the other two (no hashes)
compile() {  # input lock [constraints]
  local args=(pip compile --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu
              --custom-compile-command "bash scripts/lock.sh"
              "${extra[@]}" "$1" -o "$2")
  if [ -n "${3:-}" ]; then
    # a package the input names itself (bpy 4.2, tripo3d 1.0) is not held to the dev lock's version
    local own
    own="$(grep -oE '^[A-Za-z0-9._-]+' "$1" | tr 'A-Z_.' 'a-z--' | sort -u | paste -sd'|')"
    mkdir -p "$(dirname "$3")"
    grep -oE '^[a-z0-9._-]+==[^ ]+' requirements-dev.lock.txt | grep -v -E "^($own)==" > "$3"
    args+=(-c "$3")
  fi
  echo "[lock] $1 -> $2"
  "$UV" "${args[@]}"
}

compile requirements-dev.in requirements-dev.lock.txt
compile requirements-bpy42.in requirements-bpy42.lock.txt "$PINS"
compile requirements-sdk3.in requirements-sdk3.lock.txt "$PINS"
echo "[lock] done: $(grep -c -E '^[a-z0-9]' requirements-dev.lock.txt) / $(grep -c -E '^[a-z0-9]' \
  requirements-bpy42.lock.txt) / $(grep -c -E '^[a-z0-9]' requirements-sdk3.lock.txt) packages pinned"
