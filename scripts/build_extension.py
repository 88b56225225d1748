"""Build dist/tripo_addon-<version>.zip: the extension package, its manifest with a wheels list, and the wheels.

    python scripts/build_extension.py            # build, validate, check; exit 1 on any failure
    python scripts/build_extension.py --check dist/tripo_addon-0.1.0.zip     # only check an existing zip
    python scripts/build_extension.py --offline  # fail instead of downloading when a wheel is not cached

Steps:
1. Stage `tripo_addon/` (copies, no `__pycache__`) plus the top-level `blender_manifest.toml` into a temp folder.
2. Put the bundled wheels in `<stage>/wheels/` and write `wheels = ["./wheels/..."]` into the staged manifest.
   Wheels are downloaded once with `pip download --only-binary=:all: --python-version 3.11 --no-deps
   --require-hashes` into `dist/wheels-cache/`, at the versions and sha256 hashes of requirements-dev.lock.txt (the
   lock .venv is built from), so a rebuild is offline and the zip ships exactly what the tests ran against.
3. Build and validate with Blender's own extension CLI (`blender_ext.py` from the bpy wheel, with Blender's tag
   list), then run the checks the CLI skips (licence, permissions, version floor, layering, stray files, secrets).

Bundled wheels: boto3 and its pure-Python dependencies, and requests with its own (urllib3, idna,
charset_normalizer, certifi). All are py3-none-any (charset_normalizer's pure-Python wheel, not its compiled ones), so
one zip serves every platform and both Python 3.11 (Blender 4.2-5.0) and 3.13 (Debian's 4.3, 5.1+). Blender's
official builds ship requests & co. themselves, but the `blender` packages of Linux distributions (Debian, Ubuntu)
do not: without these wheels the add-on cannot talk to Tripo there (issue 10 item 18; scripts/gui_smoke.sh proves it
in Debian trixie's Blender with python3-requests removed). Extension wheels go before the system site-packages on
sys.path, so the bundled versions (the ones the tests ran against) are the ones imported everywhere; requests 2.34 and
botocore both accept urllib3 2.x. The versions are the lock's (tests/package checks the zip against the lock and
the venv against the lock).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tripo_addon"
DIST = ROOT / "dist"
CACHE = DIST / "wheels-cache"

LOCK = ROOT / "requirements-dev.lock.txt"
# The distributions bundled as wheels; their versions and sha256 hashes come from LOCK (the lock .venv holds).
BUNDLED: tuple[str, ...] = (
    "boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
    # requests and its dependencies: Linux distributions' Blender has none of them
    "requests", "urllib3", "idna", "charset-normalizer", "certifi",
)
PURE_WHEEL = re.compile(r"-(py3|py2\.py3)-none-any\.whl$")


class Pin(NamedTuple):
    dist: str
    version: str
    hashes: frozenset[str]  # every sha256 the lock allows for this version (sdist and wheels)

    def wheel_prefix(self) -> str:
        """How this version's wheel file names start (the name normalized as wheels spell it)."""
        return f"{re.sub(r'[-_.]+', '_', self.dist).lower()}-{self.version}-"


def read_lock(path: Path = LOCK) -> dict[str, Pin]:
    """``name==version`` entries of a lock file (uv pip compile --generate-hashes) with their hashes."""
    pins: dict[str, Pin] = {}
    entry = re.compile(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;[^\n\\]*)?\s*\\?\n"
                       r"((?:[ \t]+--hash=\S+.*\n?)*)")
    for m in entry.finditer(path.read_text(encoding="utf-8")):
        name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
        pins[name] = Pin(name, m.group(2), frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", m.group(3))))
    return pins


def bundled_pins(lock: Path = LOCK) -> list[Pin]:
    """The bundled distributions at the lock's versions. Raises BuildError if the lock misses one or its hashes."""
    pins = read_lock(lock)
    out = []
    for dist in BUNDLED:
        pin = pins.get(dist)
        if pin is None or not pin.hashes:
            raise BuildError(f"{lock.name} pins no {dist} with hashes: the zip bundles {dist}. Add it to "
                             f"requirements-dev.in and run bash scripts/lock.sh")
        out.append(pin)
    return out


# Licences compatible with GPL-3.0-or-later, as the extensions platform asks (SPDX ids).
GPL_COMPATIBLE = {
    "GPL-3.0-or-later", "GPL-2.0-or-later", "LGPL-3.0-or-later", "LGPL-2.1-or-later", "MIT", "MIT-0",
    "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "Zlib", "ISC", "MPL-2.0", "CC0-1.0", "Unlicense", "BSL-1.0",
}
FORBIDDEN_SUFFIXES = (".blend", ".blend1", ".pyc", ".pyo", ".so", ".dll", ".dylib", ".exe", ".pem", ".key", ".p12",
                      ".pfx", ".zip", ".env", ".log", ".db", ".sqlite")
FORBIDDEN_NAMES = {".env", "credentials", "config.json", ".netrc", "id_rsa"}
SECRET_PATTERNS = [
    re.compile(rb"tsk_[A-Za-z0-9_-]{20,}"),                      # a Tripo API key
    re.compile(rb"(?<![A-Z0-9])(AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])"),  # an AWS access key id
    re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
BPY_IMPORT = re.compile(r"^\s*(import\s+bpy\b|from\s+bpy\b|import\s+bmesh\b|from\s+bmesh\b|import\s+mathutils\b"
                        r"|from\s+mathutils\b)", re.M)
PUNCT_END = re.compile(r"[.,;:!?\-]$")


class BuildError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def manifest_source() -> dict:
    return tomllib.loads((ROOT / "blender_manifest.toml").read_text(encoding="utf-8"))


def zip_name() -> str:
    m = manifest_source()
    return f"{m['id']}-{m['version']}.zip"


# --------------------------------------------------------------------------------------------- Blender's own CLI
def _site_dirs() -> list[Path]:
    dirs = [Path(p) for p in sys.path if p.endswith("site-packages")]
    dirs.append(Path(sysconfig.get_paths()["purelib"]))
    for venv in (".venv", ".venv42"):
        dirs.extend(Path(p) for p in glob.glob(str(ROOT / venv / "lib" / "python3*" / "site-packages")))
    seen, out = set(), []
    for d in dirs:
        if d not in seen and d.is_dir():
            seen.add(d)
            out.append(d)
    return out


def find_blender_cli() -> tuple[Path, Path]:
    """(blender_ext.py, tags.py) from an installed bpy wheel; the newest Blender version wins."""
    env = os.environ.get("TRIPO_BLENDER_EXT")
    if env:
        cli = Path(env)
        tags = cli.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
        return cli, tags
    found = []
    for sp in _site_dirs():
        for cli in sp.glob("bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py"):
            ver = cli.parts[-6]
            tags = cli.parents[3] / "modules" / "_bpy_internal" / "extensions" / "tags.py"
            try:
                key = tuple(int(x) for x in ver.split("."))
            except ValueError:
                key = (0,)
            found.append((key, cli, tags))
    if not found:
        raise BuildError("Blender's blender_ext.py was not found: install the bpy wheel (scripts/setup_env.sh) "
                         "or set TRIPO_BLENDER_EXT=/path/to/blender_ext.py")
    found.sort(key=lambda t: t[0])
    _, cli, tags = found[-1]
    return cli, tags


def run_cli(cli: Path, *args: str) -> str:
    # blender_ext.py is stdlib-only; any Python >= 3.11 runs it (it needs tomllib).
    proc = subprocess.run([sys.executable, str(cli), *args], capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise BuildError(f"blender_ext.py {args[0]} failed (rc {proc.returncode}):\n{out}")
    return out


# --------------------------------------------------------------------------------------------- wheels
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_wheel(pin: Pin) -> Path | None:
    """The pure-Python wheel of ``pin`` in the cache whose sha256 the lock allows (a wrong one is removed)."""
    for p in sorted(CACHE.glob("*.whl")):
        if p.name.lower().startswith(pin.wheel_prefix()) and PURE_WHEEL.search(p.name):
            if sha256(p) in pin.hashes:
                return p
            p.unlink()
    return None


def fetch_wheels(*, offline: bool = False) -> list[Path]:
    """The bundled wheels at the lock's versions, from dist/wheels-cache (downloaded there once), hash-checked."""
    CACHE.mkdir(parents=True, exist_ok=True)
    pins = bundled_pins()
    missing = [pin for pin in pins if cached_wheel(pin) is None]
    if missing:
        specs = [f"{pin.dist}=={pin.version}" for pin in missing]
        if offline:
            raise BuildError(f"wheels not cached in {CACHE} and --offline given: {specs}")
        log(f"downloading {len(specs)} wheel(s) into {CACHE.relative_to(ROOT)}: {' '.join(specs)}")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
            for pin in missing:  # pip checks the hashes the lock names (--require-hashes)
                req.write(f"{pin.dist}=={pin.version} " + " ".join(f"--hash=sha256:{h}" for h in sorted(pin.hashes))
                          + "\n")
        try:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version",
                   "3.11", "--platform", "any", "--implementation", "py", "--abi", "none",  # pure-Python wheels only
                   "--no-deps", "--require-hashes", "--dest", str(CACHE), "-r", req.name]
            proc = subprocess.run(cmd, capture_output=True, text=True)
        finally:
            os.unlink(req.name)
        if proc.returncode != 0:
            raise BuildError(f"pip download failed:\n{proc.stdout}{proc.stderr}")
    paths = []
    for pin in pins:
        p = cached_wheel(pin)
        if p is None:
            raise BuildError(f"{pin.dist}=={pin.version}: no pure-Python wheel with a hash of {LOCK.name} in {CACHE}")
        paths.append(p)
    return paths


# --------------------------------------------------------------------------------------------- staging
def write_manifest(src: Path, dest: Path, wheel_names: list[str]) -> None:
    """Copy the manifest, replacing the placeholder comment (or the first table) with the wheels list."""
    text = src.read_text(encoding="utf-8")
    if re.search(r"^wheels\s*=", text, re.M):
        raise BuildError("the source manifest already declares wheels; the build writes that list itself")
    entries = ",\n".join(f'  "./wheels/{n}"' for n in wheel_names)
    block = f"wheels = [\n{entries},\n]\n"
    lines = text.splitlines(keepends=True)
    out, placed = [], False
    for line in lines:
        if not placed and line.lstrip().startswith("# The build script adds"):
            out.append(block)
            placed = True
            continue
        if not placed and re.match(r"^\s*\[", line):
            out.append(block + "\n")
            placed = True
        out.append(line)
    if not placed:
        out.append("\n" + block)
    dest.write_text("".join(out), encoding="utf-8")
    parsed = tomllib.loads(dest.read_text(encoding="utf-8"))
    if parsed.get("wheels") != [f"./wheels/{n}" for n in wheel_names]:
        raise BuildError(f"wheels list not written correctly into {dest}")


def stage(dest: Path, wheels: list[Path]) -> Path:
    target = dest / PACKAGE
    shutil.copytree(ROOT / PACKAGE, target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "*.blend", "*.blend1"))
    (target / "wheels").mkdir()
    for w in wheels:
        shutil.copy2(w, target / "wheels" / w.name)
    write_manifest(ROOT / "blender_manifest.toml", target / "blender_manifest.toml", [w.name for w in wheels])
    return target


# --------------------------------------------------------------------------------------------- own checks
def check_manifest(m: dict, *, where: str) -> list[str]:
    errors = []
    if m.get("id") != PACKAGE:
        errors.append(f"{where}: id is {m.get('id')!r}, expected {PACKAGE!r}")
    if m.get("blender_version_min") != "4.2.0":
        errors.append(f"{where}: blender_version_min is {m.get('blender_version_min')!r}, expected '4.2.0'")
    if not re.fullmatch(r"\d+\.\d+\.\d+([-+].*)?", str(m.get("version", ""))):
        errors.append(f"{where}: version {m.get('version')!r} is not semantic")
    if "blender" in str(m.get("name", "")).lower():
        errors.append(f"{where}: name must not contain 'Blender'")
    tagline = str(m.get("tagline", ""))
    if not tagline or len(tagline) > 64 or PUNCT_END.search(tagline):
        errors.append(f"{where}: tagline must be 1-64 chars without final punctuation: {tagline!r}")
    lic = m.get("license")
    if not isinstance(lic, list) or not lic:
        errors.append(f"{where}: license must be a non-empty list")
    else:
        for x in lic:
            if not str(x).startswith("SPDX:"):
                errors.append(f"{where}: license {x!r} lacks the SPDX: prefix")
            elif str(x)[5:] not in GPL_COMPATIBLE:
                errors.append(f"{where}: license {x!r} is not a known GPL-3.0-or-later compatible SPDX id")
    perms = m.get("permissions", {})
    if not isinstance(perms, dict) or "network" not in perms or "files" not in perms:
        errors.append(f"{where}: [permissions] must declare network and files")
    else:
        for key, reason in perms.items():
            if key not in ("files", "network", "clipboard", "camera", "microphone"):
                errors.append(f"{where}: unknown permission {key!r}")
            if not isinstance(reason, str) or not reason or len(reason) > 64 or PUNCT_END.search(reason):
                errors.append(f"{where}: permission reason for {key!r} must be 1-64 chars without final "
                              f"punctuation: {reason!r}")
    if "platforms" in m:
        errors.append(f"{where}: platforms is set, but the package is pure Python and serves every platform")
    return errors


def check_zip(zpath: Path) -> list[str]:
    """Checks blender_ext.py validate does not make. Returns a list of problems (empty = good)."""
    errors: list[str] = []
    zpath = Path(zpath)
    if zpath.name != zip_name():
        errors.append(f"zip name {zpath.name} != {zip_name()}")
    with zipfile.ZipFile(zpath) as zf:
        names = zf.namelist()
        if "blender_manifest.toml" not in names or "__init__.py" not in names:
            return errors + ["blender_manifest.toml and __init__.py must sit at the zip root"]
        m = tomllib.loads(zf.read("blender_manifest.toml").decode("utf-8"))
        errors += check_manifest(m, where="zip manifest")
        wheels = m.get("wheels", [])
        zipped_wheels = sorted(n for n in names if n.startswith("wheels/") and not n.endswith("/"))
        if sorted(wheels) != [f"./{n}" for n in zipped_wheels]:
            errors.append(f"wheel files in the zip {zipped_wheels} do not match the manifest list {wheels}")
        try:
            pins = bundled_pins()
        except BuildError as e:
            return errors + [str(e)]
        for pin in pins:
            mine = [n for n in zipped_wheels if n[len("wheels/"):].lower().startswith(pin.wheel_prefix())]
            if len(mine) != 1:
                errors.append(f"the zip holds {len(mine)} wheels of {pin.dist}=={pin.version} (the lock's), "
                              f"expected 1: {zipped_wheels}")
                continue
            if hashlib.sha256(zf.read(mine[0])).hexdigest() not in pin.hashes:
                errors.append(f"{mine[0]}: sha256 is not one {LOCK.name} allows")
        known = tuple(pin.wheel_prefix() for pin in pins)
        for n in zipped_wheels:
            if not n[len("wheels/"):].lower().startswith(known):
                errors.append(f"{n}: not a wheel of the lock's bundled versions")
            if not PURE_WHEEL.search(n):
                errors.append(f"{n}: not a pure-Python py3-none-any wheel")
        top = {n.split("/", 1)[0] for n in names}
        allowed_top = {"__init__.py", "blender_manifest.toml", "wheels", "api", "jobs", "blender"}
        for t in sorted(top - allowed_top):
            if not (t.endswith(".py") or t in {"LICENSE", "LICENSE.txt", "icons", "data", "assets"}):
                errors.append(f"unexpected top-level entry in the zip: {t}")
        for n in names:
            parts = n.split("/")
            base = parts[-1]
            if "__pycache__" in parts:
                errors.append(f"__pycache__ in the zip: {n}")
            if any(p.startswith(".") for p in parts if p):
                errors.append(f"dot-file in the zip: {n}")
            if base.lower().endswith(FORBIDDEN_SUFFIXES) or base.lower() in FORBIDDEN_NAMES:
                errors.append(f"forbidden file in the zip: {n}")
            if parts[0] in ("tests", "docs", "dist", "scripts", "tripo_emulator"):
                errors.append(f"development file in the zip: {n}")
            if n.endswith("/") or n.startswith("wheels/"):
                continue
            data = zf.read(n)
            for pat in SECRET_PATTERNS:
                hit = pat.search(data)
                if hit:
                    errors.append(f"{n}: looks like a secret ({hit.group(0)[:8].decode(errors='replace')}...)")
            if n.endswith(".py") and parts[0] in ("api", "jobs"):
                if BPY_IMPORT.search(data.decode("utf-8", errors="replace")):
                    errors.append(f"{n}: api/ and jobs/ must not import bpy (or bmesh/mathutils)")
            if n.endswith(".py"):
                try:
                    compile(data, n, "exec")
                except SyntaxError as e:
                    errors.append(f"{n}: syntax error: {e}")
        if not any(n.startswith("blender/") for n in names):
            errors.append("the Blender layer (blender/) is missing from the zip")
    return errors


# --------------------------------------------------------------------------------------------- main
def build(out_dir: Path = DIST, *, offline: bool = False) -> Path:
    cli, tags = find_blender_cli()
    log(f"validator: {cli.relative_to(ROOT) if cli.is_relative_to(ROOT) else cli}")
    errors = check_manifest(manifest_source(), where="blender_manifest.toml")
    if errors:
        raise BuildError("\n".join(errors))
    wheels = fetch_wheels(offline=offline)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / zip_name()
    with tempfile.TemporaryDirectory(prefix="tripo_build_") as tmp:
        staged = stage(Path(tmp), wheels)
        run_cli(cli, "validate", "--valid-tags", str(tags), str(staged))
        tmp_zip = Path(tmp) / zip_name()
        run_cli(cli, "build", "--source-dir", str(staged), "--output-filepath", str(tmp_zip),
                "--valid-tags", str(tags))
        run_cli(cli, "validate", "--valid-tags", str(tags), str(tmp_zip))
        errors = check_zip(tmp_zip)
        if errors:
            raise BuildError("package checks failed:\n  " + "\n  ".join(errors))
        shutil.move(str(tmp_zip), target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", default=str(DIST), help="where the zip goes (default: dist/)")
    ap.add_argument("--offline", action="store_true", help="never download; fail if a wheel is not cached")
    ap.add_argument("--check", metavar="ZIP", help="only run the checks on an existing zip")
    args = ap.parse_args(argv)
    try:
        if args.check:
            cli, tags = find_blender_cli()
            run_cli(cli, "validate", "--valid-tags", str(tags), args.check)
            errors = check_zip(Path(args.check))
            if errors:
                raise BuildError("package checks failed:\n  " + "\n  ".join(errors))
            log(f"OK {args.check}")
            return 0
        zpath = build(Path(args.out_dir), offline=args.offline)
    except BuildError as e:
        print(f"[build] FAILED: {e}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(zpath) as zf:
        n = len(zf.namelist())
    log(f"built and validated {zpath.relative_to(ROOT) if zpath.is_relative_to(ROOT) else zpath} "
        f"({zpath.stat().st_size / 1e6:.1f} MB, {n} entries, {len(BUNDLED)} wheels from {LOCK.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
