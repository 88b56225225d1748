#!/usr/bin/env bash
# Create (or reuse) the project's Python environments from the lock files (every package pinned, with hashes).
#
#   bash scripts/setup_env.sh          # .venv   from requirements-dev.lock.txt  (bpy 5.0.1; everything)
#   bash scripts/setup_env.sh --all    # ... and .venv42 from requirements-bpy42.lock.txt (bpy 4.2.23 LTS)
#                                      #     and .venv-sdk3 from requirements-sdk3.lock.txt (Tripo's v3 SDK 1.0.0)
#   bash scripts/setup_env.sh --42     # only .venv42
#   bash scripts/setup_env.sh --sdk3   # only .venv-sdk3
#
# The locks are written from the short requirements-*.in files by `bash scripts/lock.sh` (README, Development).
# Needs Python 3.11 (bpy 4.2-5.0 wheels are cp311 only): $PYTHON, else python3.11, else python3 if it is 3.11.
# Installs with uv (its version and hashes come from requirements-dev.lock.txt; pip installs it once into .venv-uv):
# `uv pip sync --require-hashes` makes a venv hold exactly its lock, nothing else (uv reads PyPI, or $UV_INDEX_URL;
# not pip.conf). A venv is reused only when its stamp (sha256 of its lock file + Python version) matches; a venv
# without a stamp is synced in place (so a venv in use is never pulled away), a venv with a stale stamp is rebuilt
# from nothing. After the install `pip freeze` must equal the lock. On Debian/Ubuntu as root, missing X11/GL runtime
# libraries that the bpy wheel links against are installed with apt-get.
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

stamp_of() {  # lock file -> stamp text
  { sha256sum "$1" | cut -d' ' -f1; "$PY" -c 'import sys; print(sys.version.split()[0])'; } | tr '\n' ' '
}

lock_entry() {  # lock-file package -> its entry (name==version and its --hash lines), as a requirement file
  awk -v name="$2" 'index($0, name "==") == 1 { p = 1 } p { print } p && !/\\$/ { exit }' "$1"
}

UV=.venv-uv/bin/uv
ensure_uv() {  # .venv-uv: only uv, at the dev lock's version, installed by pip with --require-hashes
  local entry want
  entry="$(lock_entry requirements-dev.lock.txt uv)"
  [ -n "$entry" ] || { echo "[setup] requirements-dev.lock.txt pins no uv" >&2; exit 1; }
  want="$(sha256sum <<<"$entry" | cut -d' ' -f1)"
  if [ -x "$UV" ] && [ "$(cat .venv-uv/.tripo-stamp 2>/dev/null)" = "$want" ]; then return 0; fi
  say "installing ${entry%% *} into .venv-uv (pip, hash-checked)"
  rm -rf .venv-uv
  "$PY" -m venv .venv-uv
  # (this machine's pip.conf may name index folders that do not exist: pip warns about each; keep the log readable)
  .venv-uv/bin/python -m pip install -q --progress-bar off --require-hashes --no-deps -r /dev/stdin <<<"$entry" \
    2> >(grep -v -E "^WARNING: Location '.*' is ignored" >&2)
  printf '%s' "$want" > .venv-uv/.tripo-stamp
}

freeze_matches_lock() {  # dir lock: `pip freeze` of the venv is exactly the lock's name==version list
  "$1/bin/python" - "$2" <<'EOF'
import re, subprocess, sys
def norm(pin):
    name, version = pin.split("==", 1)
    return re.sub(r"[-_.]+", "-", name.strip().lower()) + "==" + version.strip()
text = open(sys.argv[1]).read()
lock = {norm(m.group(0)) for m in re.finditer(r"(?m)^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s\\;]+", text)}
lock = {x for x in lock if x.split("==")[0] not in ("pip", "setuptools", "wheel")}  # pip freeze leaves these out
out = subprocess.run([sys.executable, "-m", "pip", "freeze", "--disable-pip-version-check"], capture_output=True,
                     text=True, check=True).stdout
held = {norm(x) for x in out.splitlines() if "==" in x}
for x in sorted(lock - held):
    print(f"[setup]   in the lock, not in the venv: {x}", file=sys.stderr)
for x in sorted(held - lock):
    print(f"[setup]   in the venv, not in the lock: {x}", file=sys.stderr)
sys.exit(lock != held)
EOF
}

ensure_venv() {  # dir lock-file
  local dir=$1 lock=$2 stamp want
  want="$(stamp_of "$lock")"
  stamp="$(cat "$dir/.tripo-stamp" 2>/dev/null || true)"
  if [ -x "$dir/bin/python" ] && [ "$stamp" = "$want" ]; then
    say "$dir up to date ($lock unchanged)"
    return 0
  fi
  if [ -x "$dir/bin/python" ] && [ -z "$stamp" ] && "$dir/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    say "$dir has no stamp: syncing it to $lock"
  else
    [ -e "$dir" ] && say "$dir is stale: rebuilding" && rm -rf "$dir"
    say "creating $dir with $PY"
    "$PY" -m venv "$dir"
  fi
  local t0=$SECONDS
  say "uv pip sync $lock into $dir ($(grep -c -E '^[a-z0-9]' "$lock") packages; what uv's cache lacks is downloaded:" \
    "about 500 MB for a first .venv, bpy alone 374 MB)"
  "$UV" pip sync --python "$dir/bin/python" --require-hashes "$lock" 2>&1 | sed -u 's/^/[setup]   /'
  # pip check, minus one known false alarm: the bpy wheels' WHEEL file says "cp39" although they are cp311 wheels,
  # so newer pips call bpy "not supported on this platform" (their metadata also names build tools such as cython
  # among their requirements: the locks hold those too). Anything else (a broken dependency) fails.
  local problems
  problems="$("$dir/bin/python" -m pip check 2>/dev/null | grep -v -E '^bpy [0-9.]+ is not supported on this platform$' \
              | grep -v -E '^No broken requirements found' || true)"
  if [ -n "$problems" ]; then echo "$problems" >&2; echo "[setup] pip check failed in $dir" >&2; exit 1; fi
  freeze_matches_lock "$dir" "$lock" || { echo "[setup] pip freeze of $dir differs from $lock (above)" >&2; exit 1; }
  printf '%s' "$want" > "$dir/.tripo-stamp"
  say "$dir ready ($((SECONDS - t0)) s, $(du -sh "$dir" 2>/dev/null | cut -f1) on disk; pip freeze == $lock)"
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

ensure_uv
if [ "$want_dev" = 1 ]; then ensure_venv .venv requirements-dev.lock.txt; ensure_bpy_imports .venv; fi
if [ "$want_42" = 1 ]; then ensure_venv .venv42 requirements-bpy42.lock.txt; ensure_bpy_imports .venv42; fi
if [ "$want_sdk3" = 1 ]; then
  ensure_venv .venv-sdk3 requirements-sdk3.lock.txt
  TRIPO_DISABLE_GEO_DETECTION=1 .venv-sdk3/bin/python -c 'import tripo3d, sys; sys.exit(not tripo3d.__version__.startswith("1."))' \
    || { echo "[setup] .venv-sdk3 does not hold tripo3d 1.x" >&2; exit 1; }
fi
