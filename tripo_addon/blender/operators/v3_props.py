"""Scene settings of the v3 panels (``Scene.tripo_v3``): four views, image to image, depth and splat inputs.

Registered with the operators; the pointer property is added by the group's own ``register`` (and removed by its
``unregister``), so nothing else has to know about it.
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .. import catalog
from ..properties import PATH
from ..ui_text import friendly_items

VIEWS = ("front", "left", "back", "right")


_items_cache: dict[tuple, list] = {}  # Blender needs the strings of dynamic enum items to stay alive


def _cached(key: tuple, build) -> list:
    items = _items_cache.get(key)
    if items is None:
        items = _items_cache[key] = build()
    return items


def _mv_model_items(_self, _context):
    items = catalog.enum_items("multiview_to_model", "model_version")
    return _cached(("mv", id(items), len(items)), lambda: friendly_items(items))


def _i2i_model_items(_self, _context):
    items = catalog.enum_items("generate_image", "model_version")
    return _cached(("i2i", id(items), len(items)), lambda: friendly_items(items))


def template_items(items) -> list[tuple]:
    """The Template dropdown: "None" (no template) first, then the catalogue's templates; items keep whatever extra
    fields the catalogue gives (4-tuples with a stable number)."""
    return [(item[0], "None" if item[0] == catalog.AUTO else item[1],
             "No template: the prompt alone" if item[0] == catalog.AUTO else item[2], *item[3:]) for item in items]


def _i2i_template_items(_self, _context):
    items = catalog.enum_items("generate_image", "template")
    return _cached(("tpl", id(items), len(items)), lambda: template_items(items))


class TRIPO_PG_v3_reference(bpy.types.PropertyGroup):
    """One reference image of Image to Image: a Blender image, or else a file."""

    image: PointerProperty(name="Image", type=bpy.types.Image, description="A Blender image (saved to a PNG first "
                           "when it is packed, generated or edited)")
    path: StringProperty(name="File", subtype='FILE_PATH', options=PATH, description="An image file (png, jpg, "
                         "webp), used when no Blender image is chosen")


def _prompt(view: str) -> StringProperty:
    return StringProperty(name=view.title(), description=f"How to change the {view} view (empty: keep it)")


def _use(view: str) -> BoolProperty:
    return BoolProperty(name=view.title(), default=True,
                        description=f"Use the {view} view for the model" + (" (required)" if view == "front" else ""))


class TRIPO_PG_v3(bpy.types.PropertyGroup):
    """Inputs of the Four Views, Image to Image and Depth & Splat panels (saved with the .blend file)."""

    source: PointerProperty(name="Image", type=bpy.types.Image,
                            description="The picture for four views, depth or splat (a Blender image)")
    source_path: StringProperty(name="File", subtype='FILE_PATH', options=PATH,
                                description="The picture as a file, when no Blender image is chosen")
    views_task: StringProperty(name="Views Task", description="Task id of the four views shown in the sidebar")
    use_front: _use("front")
    use_left: _use("left")
    use_back: _use("back")
    use_right: _use("right")
    prompt_front: _prompt("front")
    prompt_left: _prompt("left")
    prompt_back: _prompt("back")
    prompt_right: _prompt("right")
    model_version: EnumProperty(name="Model", description="Model version for the views' model", items=_mv_model_items)
    i2i_prompt: StringProperty(name="Prompt", description="What the new image shows; image[1], image[2]... name the "
                               "references. Optional with a template")
    i2i_model: EnumProperty(name="Image Model", items=_i2i_model_items,
                            description="seedream takes up to 4 references, banana 10, chat_image 16")
    i2i_template: EnumProperty(name="Template", items=_i2i_template_items, description="A preset (T-pose, ...)")
    references: CollectionProperty(type=TRIPO_PG_v3_reference, name="References")
    depth_kind: EnumProperty(name="Depth", items=(('gray', "Gray", "Gray depth image"),
                                                  ('color', "Color", "Colour-ramped depth image")), default='gray')
    depth_plane: BoolProperty(name="Displaced Plane", default=True,
                              description="Also add a plane displaced by the depth image")
    depth_strength: FloatProperty(name="Strength", default=0.3, min=0.0, soft_max=2.0,
                                  description="How far the brightest depth pushes the plane (meters)")
    depth_resolution: IntProperty(name="Resolution", default=504, min=126, max=2016,
                                  description="Processing resolution of the depth estimate")

    @classmethod
    def register(cls):
        bpy.types.Scene.tripo_v3 = PointerProperty(type=cls)

    @classmethod
    def unregister(cls):
        if hasattr(bpy.types.Scene, "tripo_v3"):
            del bpy.types.Scene.tripo_v3


def settings(context):
    return getattr(context.scene, "tripo_v3", None)


CLASSES = (TRIPO_PG_v3_reference, TRIPO_PG_v3)
