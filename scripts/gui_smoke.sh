#!/usr/bin/env bash
# GUI smoke test: a real Blender (Debian trixie's 4.3, Python 3.13, without numpy or requests, as Debian installs it)
# under Xvfb, inside a chroot, with the built extension zip installed. The in-GUI script (scripts/gui_smoke_blender.py)
# enables the extension, points it at the local emulator, opens the sidebar's Tripo tab, starts a text_to_model task through the operator with the event loop
# running (the modal poller does the polling and the import), waits for the object, screenshots the window, then does
# the same with an Image to Splat task. The log must hold no traceback.
#
#   sudo bash scripts/gui_smoke.sh                  # -> out/gui_smoke.png, exit 0 if the model arrived
#   sudo bash scripts/gui_smoke.sh --prepare-only   # only create/refresh the chroot
#
# Needs root (debootstrap, chroot, mounts) and the project's .venv (for the build and the emulator).
# The chroot lives in $TRIPO_GUI_CHROOT (default /var/cache/tripo-gui-chroot, ~1.9 GB, created once in ~1-2 min).
# The chroot shares the host's network namespace, so Blender inside reaches the emulator on 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
R="${TRIPO_GUI_CHROOT:-/var/cache/tripo-gui-chroot}"
SUITE="${TRIPO_GUI_SUITE:-trixie}"
OUT="${TRIPO_GUI_OUT:-$ROOT/out/gui_smoke.png}"
TIMEOUT="${TRIPO_GUI_TIMEOUT:-240}"
PREPARE_ONLY=0
[ "${1:-}" = "--prepare-only" ] && PREPARE_ONLY=1

say() { printf '[gui-smoke] %s\n' "$*"; }
die() { printf '[gui-smoke] FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"

debian_mirror() {  # the Debian archive this machine's apt sources already name (one-line and deb822 formats)
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }'
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }'
  } | grep -E '/debian/?$' | head -n 1
}

# Neither python3-numpy nor python3-requests is installed (and both are removed if anything pulled them in): Debian's
# and Ubuntu's blender packages only recommend numpy and do not depend on requests, so the add-on must register and run
# without numpy (its splat/depth import and its own GLB reader are pure Python; Blender's glTF importer needs numpy,
# so GLB results come in through the add-on's fallback reader there) and with the requests/urllib3/idna/
# charset_normalizer/certifi wheels bundled in its zip (issue 10 item 18, issue 15). The run below checks that
# `import numpy` and `import requests` fail in the chroot's python3.
PKGS="blender xvfb xauth xdotool imagemagick"
NOT_THERE="python3-requests python3-numpy"
no_system_pkgs() {  # remove python3-requests/-numpy from the chroot without touching blender (dpkg, not apt)
  local pkg mod
  for pkg in $NOT_THERE; do
    if chroot "$R" dpkg -s "$pkg" >/dev/null 2>&1; then
      say "removing $pkg from the chroot (pulled in by: $(chroot "$R" apt-cache rdepends --installed \
        "$pkg" 2>/dev/null | tail -n +3 | tr -d ' ' | tr '\n' ' '))"
      chroot "$R" dpkg --remove --force-depends "$pkg" >/dev/null 2>&1 || die "could not remove $pkg from the chroot"
    fi
  done
  for mod in requests numpy; do
    ! chroot "$R" python3 -c "import $mod" >/dev/null 2>&1 || die "$mod is still importable in the chroot's python3"
  done
}
prepare_chroot() {
  export DEBIAN_FRONTEND=noninteractive
  # (checked inside the chroot: /usr/bin/import is an absolute alternatives symlink)
  if [ -x "$R/usr/bin/blender" ] && chroot "$R" sh -c \
       'command -v xdotool && command -v import && command -v xvfb-run' \
       >/dev/null 2>&1; then
    no_system_pkgs
    say "chroot ready: $R ($(chroot "$R" blender --version 2>/dev/null | head -n1)), no system numpy or requests"
    return 0
  fi
  local t0=$SECONDS mirror
  if [ ! -x "$R/usr/bin/apt-get" ]; then
    command -v debootstrap >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q debootstrap >/dev/null; }
    mirror="$(debian_mirror)"
    [ -n "$mirror" ] || die "no Debian archive found in the apt sources"
    say "debootstrap $SUITE into $R from $mirror"
    rm -rf "$R"
    mkdir -p "$(dirname "$R")"
    debootstrap --variant=minbase "$SUITE" "$R" "$mirror" >"$R.debootstrap.log" 2>&1 \
      || { tail -20 "$R.debootstrap.log"; die "debootstrap failed"; }
  fi
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  say "apt-get install $PKGS (in the chroot)"
  chroot "$R" apt-get update -q >/dev/null
  chroot "$R" apt-get install -y -q --no-install-recommends $PKGS >"$R.apt.log" 2>&1 \
    || { tail -20 "$R.apt.log"; die "apt-get install in the chroot failed"; }
  say "chroot created in $((SECONDS - t0)) s: $(chroot "$R" blender --version 2>/dev/null | head -n1)"
  say "blender's dependencies on numpy/requests: $(chroot "$R" apt-cache depends blender 2>/dev/null \
    | grep -i -E 'numpy|requests' | tr -s ' ' | tr '\n' ';' || echo none)"
  no_system_pkgs
}

prepare_chroot
[ "$PREPARE_ONLY" = 1 ] && exit 0

PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || die "no .venv: run bash scripts/setup_env.sh first"

# 1. The zip (rebuilt: cheap, and it must contain the current sources).
"$PY" scripts/build_extension.py
ZIP="$(ls -t dist/tripo_addon-*.zip | head -n1)"

# 2. The emulator on the host loopback, with one account. Runs until we kill it.
WORK="$(mktemp -d /tmp/tripo-gui-smoke.XXXXXX)"
KEY="tsk_gui_smoke_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# shellcheck source=scripts/gui_lib.sh
source "$ROOT/scripts/gui_lib.sh"
trap gui_cleanup EXIT
start_emulator "$KEY"
say "emulator at $BASE_URL"

# 3. Blender in the chroot: a start file (no splash), the extension installed from the zip, then the GUI run.
mount_chroot
rm -rf "$R/ci" && mkdir -p "$R/ci/home"
cp "$ZIP" "$R/ci/ext.zip"
cp scripts/gui_smoke_blender.py "$R/ci/gui.py"
IN=(chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ci/home BLENDER_USER_RESOURCES=/ci/user
    LANG=C.UTF-8 NO_PROXY=127.0.0.1,localhost)
"${IN[@]}" blender -b --factory-startup --python-expr \
  "import bpy; c = bpy.data.objects.get('Cube'); c and bpy.data.objects.remove(c); \
   bpy.ops.wm.save_as_mainfile(filepath='/ci/start.blend')" >"$WORK/start.log" 2>&1 \
  || { tail -20 "$WORK/start.log"; die "could not write start.blend"; }
"${IN[@]}" blender --command extension install-file -r user_default -e /ci/ext.zip >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; die "extension install-file failed"; }
say "installed $(basename "$ZIP") with Blender's own 'extension install-file'"

t0=$SECONDS
set +e
timeout "$TIMEOUT" "${IN[@]}" SHOT=/ci/shot.png RESULT=/ci/result.json TRIPO_BASE_URL="$BASE_URL" \
  TRIPO_V3_BASE_URL="$V3_BASE_URL" TRIPO_API_KEY="$KEY" xvfb-run -a -s "-screen 0 1600x1000x24" \
  blender --factory-startup --online-mode /ci/start.blend --python /ci/gui.py >"$WORK/gui.log" 2>&1
rc=$?
set -e
say "GUI run: rc $rc in $((SECONDS - t0)) s"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/gui.log" "${OUT%.png}.log"
if [ -s "$R/ci/shot.png" ]; then cp "$R/ci/shot.png" "$OUT"; say "screenshot: $OUT"; fi
if [ -s "$R/ci/result.json" ]; then cp "$R/ci/result.json" "${OUT%.png}.json"; cat "$R/ci/result.json"; echo; fi
grep -E '^\[gui\]' "$WORK/gui.log" || true
[ "$rc" = 0 ] || { tail -40 "$WORK/gui.log"; die "Blender exited with rc $rc (log: ${OUT%.png}.log)"; }
[ -s "$R/ci/result.json" ] || die "no result from the GUI script"
"$PY" - "$R/ci/result.json" <<'EOF' || die "the model did not arrive in the scene"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r.get("ok") and r.get("objects") else 1)
EOF
"$PY" - "$R/ci/result.json" <<'EOF' || die "requests did not come from the extension's bundled wheels"
import json, sys
r = json.load(open(sys.argv[1]))
print("[gui-smoke] requests", r.get("requests_version"), "from", r.get("requests_from"))
sys.exit(0 if "/extensions/.local/lib/" in (r.get("requests_from") or "") else 1)
EOF
"$PY" - "$R/ci/result.json" <<'EOF' || die "the splat result did not arrive in the scene"
import json, sys
r = json.load(open(sys.argv[1]))
print("[gui-smoke] splat", r.get("splat"))
sys.exit(0 if (r.get("splat") or {}).get("vertices") else 1)
EOF
"$PY" - "$R/ci/result.json" <<'EOF' || die "numpy was importable in Blender: the distro case was not tested"
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r.get("numpy") is False and r.get("gltf_importer_works") is False else 1)
EOF
if grep -n -A12 'Traceback (most recent call last)' "$WORK/gui.log" >&2; then
  die "a traceback in Blender's log (above; log: ${OUT%.png}.log)"
fi
[ -s "$OUT" ] || die "no screenshot"
# 4. Every panel, menu and dialog drawn in each state, screenshots for the README (scripts/gui_panels.sh).
. scripts/gui_panels.sh
say "OK: no python3-numpy or python3-requests, the bundled wheels served; model and splat polled by the modal" \
  "poller and imported (the GLB by the add-on's own reader); no traceback in the log; screenshot $OUT"
