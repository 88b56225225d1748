"""Property groups: the runtime task list (WindowManager), per-file generate settings (Scene), file slots.

``WindowManager.tripo`` is a mirror of the job engine, rebuilt after every file load (WindowManager properties reset
on load). ``Scene.tripo`` holds the Generate panel's inputs and is saved with the file (never the API key).
Imported objects carry plain custom properties (``tripo_task_id``, ``tripo_task_type``, ``tripo_model_version``).
"""

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

from . import catalog
from .ui_text import friendly_items


def _path_options() -> set[str]:
    """Options for path properties: accept Blender's "//" (relative to the .blend file) where the option exists.

    Blender 5.0 has it (and warns without it); 4.2 to 4.3 refuse it, so registration would fail there.
    """
    return {'PATH_SUPPORTS_BLEND_RELATIVE'} if bpy.app.version >= (5, 0, 0) else set()


PATH = _path_options()
PATH_SKIP = PATH | {'SKIP_SAVE'}


class TRIPO_PG_file_slot(bpy.types.PropertyGroup):
    """One file of a list parameter; ``name`` is the path (empty: a skipped slot, e.g. a missing view)."""


class TRIPO_PG_task(bpy.types.PropertyGroup):
    """One job of the engine, as the task list shows it (``name`` is the title)."""

    job_id: StringProperty(name="Job")
    kind: StringProperty(name="Kind")
    task_type: StringProperty(name="Type", description="Task type of the current (or last) step")
    task_id: StringProperty(name="Task ID", description="Tripo task id of the current (or last) step")
    task_ids: StringProperty(name="Task IDs", description="All task ids of the job, comma separated")
    state: StringProperty(name="State")
    status: StringProperty(name="Status", description="Tripo's status of the current task")
    step: IntProperty(name="Step", description="Current step (1-based)")
    steps: IntProperty(name="Steps")
    progress: IntProperty(name="Progress", subtype='PERCENTAGE', min=0, max=100)
    eta: IntProperty(name="ETA", description="Seconds left, estimated by Tripo (-1: unknown)", default=-1)
    queue_position: IntProperty(name="Queue", default=-1)
    credits: FloatProperty(name="Credits", description="Credits charged so far")
    error: StringProperty(name="Error")
    notice: StringProperty(name="Notice")
    can_import: BoolProperty(name="Can Import")
    imported: BoolProperty(name="Imported")
    final: BoolProperty(name="Final")
    running: BoolProperty(name="Running", description="A worker follows this job now")
    result_files: StringProperty(name="Files", description="Result files, one per line")
    saved_path: StringProperty(name="Saved", description="Result saved to disk (a format Blender cannot import)")
    preview_path: StringProperty(name="Preview", description="Rendered preview image")
    updated: FloatProperty(name="Updated")


class TRIPO_PG_window(bpy.types.PropertyGroup):
    """Runtime state for the UI (not saved: WindowManager properties reset on file load)."""

    tasks: CollectionProperty(type=TRIPO_PG_task)
    active_task: IntProperty(name="Active Task", default=0)
    attach_task_id: StringProperty(name="Task ID", description="Id of an existing Tripo task to follow and import")
    balance: FloatProperty(name="Balance")
    frozen: FloatProperty(name="Frozen", description="Credits reserved by running tasks")
    balance_known: BoolProperty(name="Balance Known")
    balance_text: StringProperty(name="Balance Status")
    checking: BoolProperty(name="Checking", description="A connection test or balance request is running")
    connection_ok: BoolProperty(name="Connection OK")
    connection_text: StringProperty(name="Connection")
    notice: StringProperty(name="Notice", description="Last message from the job engine")
    status_tick: IntProperty(name="Status", description="Bumped to redraw the status bar", options={'SKIP_SAVE'})
    tasks_view: EnumProperty(
        name="Show", description="What the Tasks panel lists",
        items=(('FILE', "This File", "The jobs of this session and file", 'FILE_BLEND', 0),
               ('ACCOUNT', "Account History", "Every task of your Tripo account (API v3)", 'TIME', 1)),
        default='FILE')


_friendly: dict[tuple, list] = {}  # Blender needs the strings of dynamic enum items to stay alive


def _model_version_items(_self, _context):
    items = catalog.enum_items("text_to_model", "model_version")
    key = (id(items), len(items))
    if key not in _friendly:
        _friendly[key] = friendly_items(items)  # "v3.1" in the list, the dated id in its tooltip
    return _friendly[key]


def _texture_quality_items(_self, _context):
    return catalog.enum_items("text_to_model", "texture_quality")


def _geometry_quality_items(_self, _context):
    return catalog.enum_items("text_to_model", "geometry_quality")


class TRIPO_PG_scene(bpy.types.PropertyGroup):
    """Inputs of the Generate panel (saved with the .blend file)."""

    mode: EnumProperty(
        name="Mode",
        items=(
            ('TEXT', "Text", "Text to model", 'FONT_DATA', 0),
            ('IMAGE', "Image", "Image to model", 'IMAGE_DATA', 1),
            ('MULTIVIEW', "Views", "Up to four views (front, left, back, right) to model", 'VIEW_CAMERA', 2),
            ('TEXT_IMAGE', "Text \u2192 Image", "Text to image, then that image to model", 'IMAGE_RGB', 3),
            ('FOUR_VIEWS', "Four Views", "One picture to four views (front, left, back, right), edited by prompt, "
             "then a model from them (API v3)", 'VIEW_PERSPECTIVE', 4),
            ('IMAGE_TO_IMAGE', "Image Edit", "A new image from a prompt and reference images, or a template "
             "(API v3)", 'IMAGE_REFERENCE', 5),
            ('DEPTH', "Depth", "A depth image from a picture, and a displaced plane (API v3)", 'MOD_DISPLACE', 6),
            ('SPLAT', "Splat", "A Gaussian splat (coloured point cloud) from a picture (API v3)", 'POINTCLOUD_DATA',
             7),
        ),
        default='TEXT',
    )
    prompt: StringProperty(name="Prompt", description="What to make (up to 1024 characters)")
    negative_prompt: StringProperty(name="Negative Prompt", description="What to avoid (up to 255 characters)")
    image: StringProperty(name="Image", description="Reference image (png, jpg, webp)", subtype='FILE_PATH',
                          options=PATH)
    front: StringProperty(name="Front", description="Front view (required)", subtype='FILE_PATH', options=PATH)
    left: StringProperty(name="Left", description="Left view: the subject's left side", subtype='FILE_PATH',
                         options=PATH)
    back: StringProperty(name="Back", description="Back view", subtype='FILE_PATH', options=PATH)
    right: StringProperty(name="Right", description="Right view", subtype='FILE_PATH', options=PATH)
    model_version: EnumProperty(name="Model", description="Tripo model version", items=_model_version_items)
    texture: BoolProperty(name="Texture", description="Generate textures (off: a plain mesh, fewer credits)",
                          default=True)
    pbr: BoolProperty(name="PBR", description="Physically based materials (needs texture)", default=True)
    texture_quality: EnumProperty(name="Texture Quality", items=_texture_quality_items)
    geometry_quality: EnumProperty(name="Geometry Quality", items=_geometry_quality_items)
    face_limit: IntProperty(name="Face Limit", description="Maximum number of faces. 0: Tripo decides",
                            default=0, min=0, soft_max=500_000)
    quad: BoolProperty(name="Quad Mesh", description="Quad topology (output in FBX)", default=False)
    smart_low_poly: BoolProperty(name="Smart Low Poly", description="Hand-made style low-poly topology",
                                 default=False)
    auto_size: BoolProperty(name="Real-World Size", description="Scale to real-world size in meters",
                            default=False)
    show_advanced: BoolProperty(name="More Options", default=False)


CLASSES = (TRIPO_PG_file_slot, TRIPO_PG_task, TRIPO_PG_window, TRIPO_PG_scene)


def attach():
    """Add the pointer properties (after the classes are registered)."""
    bpy.types.WindowManager.tripo = PointerProperty(type=TRIPO_PG_window)
    bpy.types.Scene.tripo = PointerProperty(type=TRIPO_PG_scene)


def detach():
    """Remove the pointer properties (before the classes are unregistered)."""
    for owner in (bpy.types.Scene, bpy.types.WindowManager):
        if hasattr(owner, "tripo"):
            del owner.tripo
