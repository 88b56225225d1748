"""What the running Blender's glTF importer can open, read from the importer itself (not assumed from a version).

Tripo's ``compress: geometry`` returns GLBs that *require* EXT_meshopt_compression (tripo-api-v3.md §18 R14); Blender's
importer refuses a file whose ``extensionsRequired`` names an extension missing from its ``extensions_managed`` list
("Extension ... is not available on this addon version"). That list is built in ``glTFImporter.__init__`` (plus the
extensions that enabled import user-extensions declare as required), so an importer instance is asked directly.
"""

from __future__ import annotations

import logging

from ..api import tasks as api_tasks

log = logging.getLogger("tripo_addon.blender.gltf_caps")

MESHOPT = "EXT_meshopt_compression"
_cache: list[tuple[bool, str]] = []


def managed_extensions() -> list[str] | None:
    """The extensions this Blender's glTF importer handles (None when the importer cannot be inspected)."""
    try:
        from io_scene_gltf2.io.imp.gltf2_io_gltf import glTFImporter  # Blender's bundled glTF add-on
    except Exception:  # noqa: BLE001 - not bundled, renamed or broken: unknown
        log.debug("glTF importer not importable", exc_info=True)
        return None
    try:
        importer = glTFImporter("", {"import_user_extensions": _user_extensions()})
        managed = list(getattr(importer, "extensions_managed", None) or [])
    except Exception:  # noqa: BLE001 - a changed constructor: unknown
        log.debug("glTF importer could not be inspected", exc_info=True)
        return None
    return [str(e) for e in managed]


def _user_extensions() -> list:
    """The import user-extensions of enabled add-ons, gathered as the glTF importer does (``glTF2ImportUserExtension``
    of each enabled add-on's module): one of them may add EXT_meshopt_compression."""
    out = []
    try:
        import sys

        import bpy

        for name in bpy.context.preferences.addons.keys():
            ctor = getattr(sys.modules.get(name), "glTF2ImportUserExtension", None)
            if ctor is not None:
                try:
                    out.append(ctor())
                except Exception:  # noqa: BLE001 - a broken third-party extension is not ours to judge
                    continue
    except Exception:  # noqa: BLE001 - no preferences (early start-up): the built-in list only
        return out
    return out


def meshopt_support(*, refresh: bool = False) -> tuple[bool, str]:
    """(supported, reason): whether a GLB requiring EXT_meshopt_compression imports here, and why not."""
    if _cache and not refresh:
        return _cache[0]
    managed = managed_extensions()
    if managed is None:
        result = (False, "this Blender's glTF importer could not be inspected, so a compressed result might not "
                  "import")
    elif MESHOPT in managed:
        result = (True, "")
    else:
        import bpy

        version = ".".join(str(n) for n in bpy.app.version)
        result = (False, f"Blender {version}'s glTF importer does not support {MESHOPT} (it would refuse the file: "
                  "'not available on this addon version')")
    _cache[:] = [result]
    return result


def apply(*, refresh: bool = False) -> tuple[bool, str]:
    """Detect once and tell the api layer, which then refuses ``compress`` with the reason before any request."""
    ok, reason = meshopt_support(refresh=refresh)
    api_tasks.set_compress_support(ok, reason)
    return ok, reason
