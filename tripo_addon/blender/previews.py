"""Preview icons of finished tasks (the rendered image Tripo returns), loaded on the main thread.

A preview collection keeps them out of ``bpy.data``, so nothing is saved into the .blend file.
"""

from __future__ import annotations

import os

_collection = None


def icon_id(path: str) -> int:
    """Icon id for an image file (0 when it cannot be shown)."""
    global _collection
    if not path or not os.path.isfile(path):
        return 0
    import bpy.utils.previews

    if _collection is None:
        _collection = bpy.utils.previews.new()
    try:
        preview = _collection.get(path) or _collection.load(path, path, 'IMAGE')
        return preview.icon_id
    except (KeyError, RuntimeError, OSError):
        return 0


def clear() -> None:
    """Free all previews (unregister)."""
    global _collection
    if _collection is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_collection)
        _collection = None
