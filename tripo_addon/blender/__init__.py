"""The Blender layer: the only part of tripo_addon that imports bpy.

``base_package`` is the extension's module name (``bl_ext.<repo>.tripo_addon``), never a literal.
"""

from .. import __package__ as base_package

__all__ = ["base_package"]
