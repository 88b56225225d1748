"""Preview icons of finished tasks (the rendered image Tripo returns) and view thumbnails, loaded on the main thread.

A preview collection keeps them out of ``bpy.data``, so nothing is saved into the .blend file. At most
:data:`MAX_PREVIEWS` stay loaded (the oldest are freed first); all are freed on unregister.
"""

from __future__ import annotations

import os
from collections import OrderedDict

MAX_PREVIEWS = 48

_collection = None
_order: OrderedDict[str, None] = OrderedDict()  # loaded paths, oldest first


def icon_id(path: str) -> int:
    """Icon id for an image file (0 when it cannot be shown)."""
    global _collection
    if not path:
        return 0
    if _collection is not None and path in _collection:
        _order.move_to_end(path, last=True)
        try:
            return _collection[path].icon_id
        except (KeyError, RuntimeError, ReferenceError):
            return 0
    if not os.path.isfile(path):
        return 0
    import bpy.utils.previews

    if _collection is None:
        _collection = bpy.utils.previews.new()
    try:
        preview = _collection.load(path, path, 'IMAGE')
    except (KeyError, RuntimeError, OSError):
        return 0
    _order[path] = None
    while len(_order) > MAX_PREVIEWS:
        old, _ = _order.popitem(last=False)
        free(old)
    return preview.icon_id


def free(path: str) -> None:
    """Free one preview (e.g. of a removed job)."""
    _order.pop(path, None)
    if _collection is not None and path in _collection:
        try:
            del _collection[path]
        except (KeyError, RuntimeError, TypeError):
            pass


def loaded() -> int:
    return len(_order)


def clear() -> None:
    """Free all previews (unregister)."""
    global _collection
    _order.clear()
    if _collection is not None:
        import bpy.utils.previews

        bpy.utils.previews.remove(_collection)
        _collection = None
