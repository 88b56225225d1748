"""Tripo 3D for Blender: text, image and mesh to 3D models through the Tripo API (extension entry point)."""

from .blender import registration


def register():
    registration.register()


def unregister():
    registration.unregister()
