# Sourced by scripts/gui_smoke.sh after its smoke run (the chroot is mounted, the extension installed, the emulator
# up): draws every Tripo panel, menu and dialog in a real Blender under Xvfb (scripts/gui_panels_blender.py), fails on
# any traceback or problem it reports, and refreshes the README's screenshots in docs/images/.
# Uses gui_smoke.sh's variables: R, IN, WORK, BASE_URL, KEY, TIMEOUT, PY, ROOT.
cp scripts/gui_panels_blender.py "$R/ci/panels.py"
rm -rf "$R/ci/panels" && mkdir -p "$R/ci/panels"
t0=$SECONDS
set +e
timeout "$TIMEOUT" "${IN[@]}" PANELS_OUT=/ci/panels TRIPO_BASE_URL="$BASE_URL" TRIPO_GUI_KEY="$KEY" \
  xvfb-run -a -s "-screen 0 1600x1000x24" \
  blender --factory-startup /ci/start.blend --python /ci/panels.py >"$WORK/panels.log" 2>&1
rc=$?
set -e
say "GUI panels run: rc $rc in $((SECONDS - t0)) s"
PANELS_DIR="${TRIPO_GUI_PANELS_OUT:-$ROOT/out/gui_panels}"
mkdir -p "$PANELS_DIR"
cp "$WORK/panels.log" "$PANELS_DIR/panels.log"
cp "$R"/ci/panels/* "$PANELS_DIR/" 2>/dev/null || true
grep -E '^\[gui-panels\]' "$WORK/panels.log" | tail -n 40 || true
[ "$rc" = 0 ] || { tail -40 "$WORK/panels.log"; die "Blender exited with rc $rc drawing the panels"; }
[ -s "$PANELS_DIR/panels.json" ] || die "no report from the panel drawing script"
tb=$(grep -c 'Traceback (most recent call last)' "$WORK/panels.log" || true)
[ "$tb" = 0 ] || { grep -B2 -A12 'Traceback (most recent call last)' "$WORK/panels.log" | head -60; \
  die "$tb traceback(s) while drawing the panels"; }
"$PY" - "$PANELS_DIR/panels.json" <<'PYEOF' || die "the panel drawing found problems (see $PANELS_DIR/panels.json)"
import json, sys
r = json.load(open(sys.argv[1]))
for p in r.get("problems", []):
    print("[gui-panels] problem:", p.splitlines()[0])
print("[gui-panels] top-level panels:", r.get("top_level_panels"), "| dialogs:", len(r.get("dialogs", {})),
      "| menus:", len(r.get("menus", {})), "| states:", len(r.get("states", [])))
sys.exit(0 if r.get("ok") else 1)
PYEOF
# the README's screenshots (docs/images/), from this very run
for shot in sidebar-empty sidebar-selected sidebar-running sidebar-tasks-failed status-bar-running asset-library \
            status-bar-failed sidebar-history-candidate; do
  if [ -s "$PANELS_DIR/$shot.png" ]; then cp "$PANELS_DIR/$shot.png" "$ROOT/docs/images/$shot.png"; fi
done
say "panels, menus and dialogs drawn with no traceback; screenshots in docs/images/"
