#!/usr/bin/env bash
# Create (or reuse) the project's Python environments from the pinned requirement files.
#
#   bash scripts/setup_env.sh          # .venv   from requirements-dev.txt  (bpy 5.0.1; everything)
#   bash scripts/setup_env.sh --all    # ... and .venv42 from requirements-bpy42.txt (bpy 4.2.23 LTS)
#   bash scripts/setup_env.sh --42     # only .venv42
#   bash scripts/setup_env.sh --sdk3   # only .venv-sdk3 from requirements-sdk3.txt (Tripo's v3 SDK, tripo3d 1.0.0; --all
#                                      # builds it too)
#
# Needs Python 3.11 (bpy 4.2-5.0 wheels are cp311 only): $PYTHON, else python3.11, else python3 if it is 3.11.
# A venv is reused only when its stamp (sha256 of the requirement file + Python version) matches; a venv without
# a stamp is brought up to date in place with `pip install -r` (so a venv in use is never pulled away), a venv
# with a stale stamp is rebuilt from nothing. On Debian/Ubuntu as root, missing X11/GL runtime libraries that the
# bpy wheel links against are installed with apt-get.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

want_dev=1 want_42=0 want_sdk3=0
case "${1:-}" in
  --all) want_42=1; want_sdk3=1 ;;
  --42) want_dev=0; want_42=1 ;;
  --sdk3) want_dev=0; want_sdk3=1 ;;
  "") ;;
  *) echo "usage: $0 [--all|--42|--sdk3]" >&2; exit 2 ;;
esac

say() { printf '[setup] %s\n' "$*"; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.11 python3; do
    [ -n "$c" ] || continue
    command -v "$c" >/dev/null 2>&1 || continue
    if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

PY="$(find_python)" || {
  echo "[setup] Python 3.11 not found (bpy 4.2-5.0 wheels are cp311 only). Install python3.11 or set PYTHON=..." >&2
  exit 1
}

# Debian/Ubuntu split ensurepip (needed by `python -m venv`) into python3.11-venv / python3-venv.
if ! "$PY" -c 'import ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "ensurepip missing: installing python3.11-venv with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q python3.11-venv >/dev/null 2>&1 || apt-get install -y -q python3-venv >/dev/null
  else
    echo "[setup] $PY cannot create virtual environments (no ensurepip): install python3.11-venv" >&2
    exit 1
  fi
fi

stamp_of() {  # requirement file -> stamp text
  { sha256sum "$1" | cut -d' ' -f1; "$PY" -c 'import sys; print(sys.version.split()[0])'; } | tr '\n' ' '
}

pip_progress() {  # pip's output on stdin -> "[setup]  12 s  <what>" per package fetched, then a summary
  local t0=$1 line n=0 sizes=""
  while IFS= read -r line; do
    line="${line#"${line%%[![:space:]]*}"}"
    case "$line" in
      Collecting*|Downloading*|"Using cached"*|"Obtaining"*)
        [[ "$line" =~ \(([0-9.]+)\ (kB|MB|GB)\)$ ]] && sizes+="${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'
        printf '[setup] %4d s  %s\n' $((SECONDS - t0)) "${line%% (from*}" ;;
      "Installing collected packages"*)
        n=$(($(tr -cd ',' <<<"$line" | wc -c) + 1))
        printf '[setup] %4d s  fetched %s; installing %d packages (unpacking takes a while)\n' $((SECONDS - t0)) \
          "$(awk 'NF { mb += $1 * ($2 == "kB" ? 0.001 : $2 == "GB" ? 1000 : 1); k++ }
                  END { printf "%d files, %.0f MB", k, mb }' <<<"$sizes")" "$n" ;;
      "Successfully installed"*)
        n=$(($(wc -w <<<"$line") - 2))
        printf '[setup] %4d s  installed %d packages\n' $((SECONDS - t0)) "$n" ;;
      ERROR*|error*) printf '%s\n' "$line" ;;
    esac
  done
}

ensure_venv() {  # dir requirement-file
  local dir=$1 req=$2 stamp want
  want="$(stamp_of "$req")"
  stamp="$(cat "$dir/.tripo-stamp" 2>/dev/null || true)"
  if [ -x "$dir/bin/python" ] && [ "$stamp" = "$want" ]; then
    say "$dir up to date ($req unchanged)"
    return 0
  fi
  if [ -x "$dir/bin/python" ] && [ -z "$stamp" ] && "$dir/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    say "$dir has no stamp: installing $req into it"
  else
    [ -e "$dir" ] && say "$dir is stale: rebuilding" && rm -rf "$dir"
    say "creating $dir with $PY"
    "$PY" -m venv "$dir"
  fi
  local t0=$SECONDS
  say "pip install -r $req into $dir (about 450 MB to fetch, bpy alone 374 MB; one line per file, seconds so far)"
  # (this machine's pip.conf may name index folders that do not exist: pip warns about each; keep the log readable)
  "$dir/bin/python" -m pip install --progress-bar off -r "$req" \
    2> >(grep -v -E "^WARNING: Location '.*' is ignored" >&2) | pip_progress "$t0"
  # pip check, minus one known false alarm: the bpy wheels' WHEEL file says "cp39" although they are cp311 wheels,
  # so newer pips call bpy "not supported on this platform". Anything else (a broken dependency) fails.
  local problems
  problems="$("$dir/bin/python" -m pip check 2>/dev/null | grep -v -E '^bpy [0-9.]+ is not supported on this platform$' \
              | grep -v -E '^No broken requirements found' || true)"
  if [ -n "$problems" ]; then echo "$problems" >&2; echo "[setup] pip check failed in $dir" >&2; exit 1; fi
  printf '%s' "$want" > "$dir/.tripo-stamp"
  say "$dir ready ($((SECONDS - t0)) s of pip, $(du -sh "$dir" 2>/dev/null | cut -f1) on disk)"
}

ensure_bpy_imports() {  # dir
  local dir=$1 err scratch
  scratch="$(mktemp -d)"
  if err="$(BLENDER_USER_RESOURCES="$scratch" TMPDIR="$scratch" "$dir/bin/python" -c 'import bpy' 2>&1)"; then
    rm -rf "$scratch"; return 0
  fi
  rm -rf "$scratch"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo "$err" | grep -q 'cannot open shared object'; then
    say "bpy misses system libraries; installing them with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends libx11-6 libxrender1 libxfixes3 libxi6 libxkbcommon0 libxext6 \
      libsm6 libice6 libgl1 libegl1 libglx0 libxxf86vm1 >/dev/null
    "$dir/bin/python" -c 'import bpy' && return 0
  fi
  echo "$err" >&2
  echo "[setup] 'import bpy' fails in $dir (see above)" >&2
  exit 1
}

if [ "$want_dev" = 1 ]; then ensure_venv .venv requirements-dev.txt; ensure_bpy_imports .venv; fi
if [ "$want_42" = 1 ]; then ensure_venv .venv42 requirements-bpy42.txt; ensure_bpy_imports .venv42; fi
if [ "$want_sdk3" = 1 ]; then
  ensure_venv .venv-sdk3 requirements-sdk3.txt
  TRIPO_DISABLE_GEO_DETECTION=1 .venv-sdk3/bin/python -c 'import tripo3d, sys; sys.exit(not tripo3d.__version__.startswith("1."))' \
    || { echo "[setup] .venv-sdk3 does not hold tripo3d 1.x" >&2; exit 1; }
fi
