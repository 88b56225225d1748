"""Tripo 3D for Blender: text, image and mesh to 3D models through the Tripo API (extension entry point).

The Blender layer is imported inside register()/unregister() so that `tripo_addon.api` and `tripo_addon.jobs`
stay importable (and testable) without bpy.
"""


def register():
    from .blender import registration

    registration.register()


def unregister():
    from .blender import registration

    registration.unregister()
