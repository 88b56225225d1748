"""The Blender layer: the only part of tripo_addon that imports bpy.

``base_package`` is the extension's module name (``bl_ext.<repo>.tripo_addon``), never a literal: this package's
own name without its last part (no import of the package above).
"""

base_package: str = __package__.rpartition(".")[0]

__all__ = ["base_package"]
