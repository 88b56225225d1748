# Sourced by scripts/gui_smoke.sh and tests/gui/*.sh: the emulator on the host loopback and the chroot's mounts.
# The caller sets PY (the .venv's python), WORK (a scratch folder), R (the chroot) and die(); this file sets
# EMU_PID, BASE_URL, V3_BASE_URL and MOUNTED, and gui_cleanup (the EXIT trap) undoes all of it.
EMU_PID=""
MOUNTED=""

gui_cleanup() {
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null || true
  if [ -n "$MOUNTED" ]; then umount "$R/proc" 2>/dev/null || true; umount "$R/dev" 2>/dev/null || true; fi
  rm -rf "$WORK"
}

# start_emulator KEY: an emulator (v2 at BASE_URL, v3 at V3_BASE_URL) with one account, until gui_cleanup.
start_emulator() {
  TRIPO_KEY="$1" TRIPO_URL_FILE="$WORK/url" "$PY" - >"$WORK/emulator.log" 2>&1 <<'PYEOF' &
import os, signal, sys, tempfile, threading
sys.path.insert(0, os.getcwd())
from tripo_emulator import Emulator
emu = Emulator(port=0, time_scale=0.05, data_dir=tempfile.mkdtemp(prefix="tripo-emu-"))
emu.start()
emu.add_account(os.environ["TRIPO_KEY"], balance=100_000)
with open(os.environ["TRIPO_URL_FILE"] + ".tmp", "w") as f:
    f.write(emu.base_url + "\n" + emu.v3_base_url)  # (Image to Splat is a v3 task)
os.replace(os.environ["TRIPO_URL_FILE"] + ".tmp", os.environ["TRIPO_URL_FILE"])
print("emulator at", emu.base_url, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
stop.wait()
emu.stop()
PYEOF
  EMU_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/url" ] && break; kill -0 "$EMU_PID" 2>/dev/null || break; sleep 0.1; done
  [ -s "$WORK/url" ] || { cat "$WORK/emulator.log"; die "the emulator did not start"; }
  BASE_URL="$(sed -n 1p "$WORK/url")"
  V3_BASE_URL="$(sed -n 2p "$WORK/url")"
}

# mount_chroot: /proc and /dev inside the chroot (unmounted by gui_cleanup).
mount_chroot() {
  mountpoint -q "$R/proc" || mount -t proc proc "$R/proc"
  mountpoint -q "$R/dev" || mount --bind /dev "$R/dev"
  MOUNTED=1
}
