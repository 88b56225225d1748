#!/usr/bin/env bash
# Issue 10.7 in a real GUI Blender (Debian's, under Xvfb, in the chroot scripts/gui_smoke.sh prepares): an import
# pushed from the poller's timer, then "Adjust Last Operation" on the user's cube; the result must be offered again.
#
#   sudo bash tests/gui/rel10_undo_gui.sh        # -> out/rel10_undo.json, exit 0 when every check passed
#
# Same setup as scripts/gui_smoke.sh (chroot, built zip installed with Blender's own CLI, emulator on the host
# loopback); only the in-GUI script differs (tests/gui/rel10_undo_blender.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
R="${TRIPO_GUI_CHROOT:-/var/cache/tripo-gui-chroot}"
OUT="${TRIPO_GUI_OUT:-$ROOT/out/rel10_undo.json}"
say() { printf '[rel10-gui] %s\n' "$*"; }
die() { printf '[rel10-gui] FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (chroot, mount)"
bash scripts/gui_smoke.sh --prepare-only
PY="$ROOT/.venv/bin/python"
"$PY" scripts/build_extension.py >/dev/null
ZIP="$(ls -t dist/tripo_addon-*.zip | head -n1)"
WORK="$(mktemp -d /tmp/tripo-rel10-gui.XXXXXX)"
KEY="tsk_gui_rel10_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# shellcheck source=scripts/gui_lib.sh
source "$ROOT/scripts/gui_lib.sh"
trap gui_cleanup EXIT
start_emulator "$KEY"
mount_chroot
C=/ci-rel10
rm -rf "$R$C" && mkdir -p "$R$C/home"
cp "$ZIP" "$R$C/ext.zip"
cp tests/gui/rel10_undo_blender.py "$R$C/gui.py"
IN=(chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=$C/home BLENDER_USER_RESOURCES=$C/user
    LANG=C.UTF-8 NO_PROXY=127.0.0.1,localhost)
"${IN[@]}" blender -b --factory-startup --python-expr \
  "import bpy; c = bpy.data.objects.get('Cube'); c and bpy.data.objects.remove(c); \
   bpy.ops.wm.save_as_mainfile(filepath='$C/start.blend')" >"$WORK/start.log" 2>&1 \
  || { tail -20 "$WORK/start.log"; die "could not write start.blend"; }
"${IN[@]}" blender --command extension install-file -r user_default -e $C/ext.zip >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; die "extension install-file failed"; }
set +e
timeout 240 "${IN[@]}" RESULT=$C/result.json TRIPO_BASE_URL="$BASE_URL" TRIPO_API_KEY="$KEY" \
  xvfb-run -a -s "-screen 0 1600x1000x24" \
  blender --factory-startup --online-mode $C/start.blend --python $C/gui.py >"$WORK/gui.log" 2>&1
rc=$?
set -e
mkdir -p "$(dirname "$OUT")"
cp "$WORK/gui.log" "${OUT%.json}.log"
grep -E '^\[gui\]' "$WORK/gui.log" || true
[ -s "$R$C/result.json" ] || { tail -40 "$WORK/gui.log"; die "no result (rc $rc)"; }
cp "$R$C/result.json" "$OUT"
"$PY" -c "import json,sys; sys.exit(0 if json.load(open('$OUT'))['ok'] else 1)" || die "a check failed ($OUT)"
say "OK ($OUT)"
