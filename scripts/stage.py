"""Stage the extension folder (tripo_addon/ + blender_manifest.toml) where Blender can load it.

The source tree keeps the manifest at the top level; Blender wants it inside the extension folder. Staging builds
`<dest>/tripo_addon/` from symlinks to the source files (edits show up at once) plus a copy of the manifest, so
nothing is ever written into the source package.

    python scripts/stage.py DEST        # DEST becomes an extensions repository directory
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tripo_addon"
SKIP = {"__pycache__"}


def stage(dest: Path | str, *, copy: bool = False) -> Path:
    """Create `dest/tripo_addon` (symlinks unless copy=True) with the manifest; return that folder."""
    dest = Path(dest)
    target = dest / PACKAGE
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    src = ROOT / PACKAGE
    for child in sorted(src.iterdir()):
        if child.name in SKIP or child.name.startswith("."):
            continue
        if copy:
            if child.is_dir():
                shutil.copytree(child, target / child.name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
            else:
                shutil.copy2(child, target / child.name)
        else:
            os.symlink(child, target / child.name)
    shutil.copy2(ROOT / "blender_manifest.toml", target / "blender_manifest.toml")
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(stage(sys.argv[1]))
