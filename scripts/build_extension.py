"""Build dist/tripo_addon-<version>.zip: the extension package, its manifest with a wheels list, and the wheels.

    python scripts/build_extension.py            # build, validate, check; exit 1 on any failure
    python scripts/build_extension.py --check dist/tripo_addon-0.1.0.zip     # only check an existing zip
    python scripts/build_extension.py --offline  # fail instead of downloading when a wheel is not cached

Steps:
1. Stage `tripo_addon/` (copies, no `__pycache__`) plus the top-level `blender_manifest.toml` into a temp folder.
2. Put the bundled wheels in `<stage>/wheels/` and write `wheels = ["./wheels/..."]` into the staged manifest.
   Wheels are downloaded once with `pip download --only-binary=:all: --python-version 3.11 --no-deps` into
   `dist/wheels-cache/`, checked against the sha256 pinned below, so a rebuild is offline.
3. Build and validate with Blender's own extension CLI (`blender_ext.py` from the bpy wheel, with Blender's tag
   list), then run the checks the CLI skips (licence, permissions, version floor, layering, stray files, secrets).

Bundled wheels: boto3 and its pure-Python dependencies, and requests with its own (urllib3, idna,
charset_normalizer, certifi). All are py3-none-any (charset_normalizer's pure-Python wheel, not its compiled ones), so
one zip serves every platform and both Python 3.11 (Blender 4.2-5.0) and 3.13 (Debian's 4.3, 5.1+). Blender's
official builds ship requests & co. themselves, but the `blender` packages of Linux distributions (Debian, Ubuntu)
do not: without these wheels the add-on cannot talk to Tripo there (issue 10 item 18; scripts/gui_smoke.sh proves it
in Debian trixie's Blender with python3-requests removed). Extension wheels go before the system site-packages on
sys.path, so the bundled versions (the ones the tests ran against) are the ones imported everywhere; requests 2.34 and
botocore both accept urllib3 2.x. The versions match what requirements-dev.txt resolves to (tests/package checks
that against the dev venv).
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

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tripo_addon"
DIST = ROOT / "dist"
CACHE = DIST / "wheels-cache"

# distribution, version, wheel file, sha256 (pinned; same versions as the dev venv resolves from requirements-dev.txt)
WHEELS: list[tuple[str, str, str, str]] = [
    ("boto3", "1.44.8", "boto3-1.44.8-py3-none-any.whl",
     "099caf21553bbbfef118904aa02fadb8776a534704cf00bede0ed9f29a4da88e"),
    ("botocore", "1.44.8", "botocore-1.44.8-py3-none-any.whl",
     "76342a76c338701db80dcb8afe1c9bd079283d6fffbb9d881442abb02a215043"),
    ("s3transfer", "0.19.3", "s3transfer-0.19.3-py3-none-any.whl",
     "24eb7535804306355e31c952a90022bf5b2f9d760f9a11062c7493a217c08553"),
    ("jmespath", "1.1.0", "jmespath-1.1.0-py3-none-any.whl",
     "a5663118de4908c91729bea0acadca56526eb2698e83de10cd116ae0f4e97c64"),
    ("python-dateutil", "2.9.0.post0", "python_dateutil-2.9.0.post0-py2.py3-none-any.whl",
     "a8b2bc7bffae282281c8140a97d3aa9c14da0b136dfe83f850eea9a5f7470427"),
    ("six", "1.17.0", "six-1.17.0-py2.py3-none-any.whl",
     "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"),
    # requests and its dependencies: Linux distributions' Blender has none of them
    ("requests", "2.34.2", "requests-2.34.2-py3-none-any.whl",
     "2a0d60c172f83ac6ab31e4554906c0f3b3588d37b5cb939b1c061f4907e278e0"),
    ("urllib3", "2.8.0", "urllib3-2.8.0-py3-none-any.whl",
     "0cf3cae568d36aa9576b28dfb35f11328f1cb974ca7647d9475ebb86c75ac6e3"),
    ("idna", "3.20", "idna-3.20-py3-none-any.whl",
     "ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c"),
    ("charset-normalizer", "3.5.3", "charset_normalizer-3.5.3-py3-none-any.whl",
     "96e268b0cbda016ac519513294fcd17032264085b600abaac58b93049477e132"),
    ("certifi", "2026.10.19.post1", "certifi-2026.10.19.post1-py3-none-any.whl",
     "1324c476b4811eff41a8bc2122cd0bbd4d9c7234c725446d99ab1612b3a7fdd2"),
]

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
        raise BuildError("Blender's blender_ext.py was not found: install the bpy wheel (requirements-dev.txt) "
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


def fetch_wheels(*, offline: bool = False) -> list[Path]:
    """The pinned wheels, from dist/wheels-cache (downloaded there once), sha256-verified."""
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [(d, v) for d, v, f, _ in WHEELS if not (CACHE / f).is_file()]
    if missing:
        if offline:
            raise BuildError(f"wheels not cached in {CACHE} and --offline given: {missing}")
        specs = [f"{d}=={v}" for d, v in missing]
        log(f"downloading {len(specs)} wheel(s) into {CACHE.relative_to(ROOT)}: {' '.join(specs)}")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version", "3.11",
               "--platform", "any", "--implementation", "py", "--abi", "none",  # pure-Python wheels only
               "--no-deps", "--dest", str(CACHE), *specs]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"pip download failed:\n{proc.stdout}{proc.stderr}")
    paths = []
    for dist, ver, fname, digest in WHEELS:
        p = CACHE / fname
        if not p.is_file():
            raise BuildError(f"{dist}=={ver}: expected {fname} in {CACHE}; pip saved something else")
        got = sha256(p)
        if got != digest:
            p.unlink()
            raise BuildError(f"{fname}: sha256 {got} does not match the pinned {digest}; removed it from the cache")
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
        expected = [f"./wheels/{f}" for _, _, f, _ in WHEELS]
        if sorted(wheels) != sorted(expected):
            errors.append(f"manifest wheels {wheels} != expected {expected}")
        zipped_wheels = sorted(n for n in names if n.startswith("wheels/") and not n.endswith("/"))
        if zipped_wheels != sorted(w[2:] for w in expected):
            errors.append(f"wheel files in the zip {zipped_wheels} do not match the manifest list")
        for _, _, fname, digest in WHEELS:
            if f"wheels/{fname}" in names:
                if hashlib.sha256(zf.read(f"wheels/{fname}")).hexdigest() != digest:
                    errors.append(f"wheels/{fname}: sha256 differs from the pin")
                if not re.search(r"-py(2\.)?py3-none-any\.whl$|-py3-none-any\.whl$", fname):
                    errors.append(f"wheels/{fname}: not a pure-Python py3-none-any wheel")
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
        f"({zpath.stat().st_size / 1e6:.1f} MB, {n} entries, {len(WHEELS)} wheels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
