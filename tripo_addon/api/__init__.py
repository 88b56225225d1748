"""The bpy-free Tripo API core: client, task specs and validation, uploads, downloads, errors.

Import the pieces directly (``from tripo_addon.api.client import TripoClient``, ``from tripo_addon.api import tasks``);
this package never imports ``bpy`` and keeps its own imports light (boto3 is loaded only for STS uploads).
"""

from __future__ import annotations

#: The add-on version (matches blender_manifest.toml; a test checks it). Sent as ``User-Agent: tripo-addon/<version>``.
__version__ = "0.1.0"

__all__ = ["__version__"]
