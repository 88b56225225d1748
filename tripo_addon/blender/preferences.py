"""Add-on preferences: API key, endpoint, folders, import options, network settings, "Test connection".

The key lives here only (user preferences): nothing copies it into Scene or WindowManager properties, so it never
ends up in a .blend file; it is never printed or logged.
"""

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import base_package, runtime, settings


def _strip_key(self, _context):
    # Pasted keys often carry a newline or spaces; assigning the same value again does not recurse.
    clean = "".join(self.api_key.split())
    if clean != self.api_key:
        self.api_key = clean
    runtime.settings_changed()


def _clean_url(self, _context):
    clean = self.api_base_url.strip().rstrip("/")
    if clean != self.api_base_url:
        self.api_base_url = clean
    runtime.settings_changed()


def _changed(_self, _context):
    runtime.settings_changed()


_REGION_URLS = {'GLOBAL': settings.DEFAULT_BASE_URL, 'CHINA': settings.CHINA_BASE_URL}


def _get_region(self):
    if self.api_custom:
        return 2
    url = settings.base_url(self)
    for value, target in enumerate(_REGION_URLS.values()):
        if url == target:
            return value
    return 2


def _set_region(self, value):
    """Global / China set their address. Custom keeps the address as it is (still the region's, so nothing is sent
    anywhere new) until the user types another one in API URL: never a silent switch to a local address."""
    ident = ('GLOBAL', 'CHINA', 'CUSTOM')[value]
    self.api_custom = ident == 'CUSTOM'
    if ident in _REGION_URLS:
        self.api_base_url = _REGION_URLS[ident]


class TRIPO_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = base_package

    # -- account ---------------------------------------------------------------------------------------------
    api_key: StringProperty(
        name="API Key",
        description=(
            "Your Tripo API key (tsk_...). Stored in Blender's user preferences only, never in .blend files. "
            f"When empty, the {settings.ENV_KEY} environment variable is used"
        ),
        subtype='PASSWORD',
        update=_strip_key,
    )
    api_region: EnumProperty(
        name="API",
        description="Which Tripo API to talk to (the API address below follows this choice)",
        items=(
            ('GLOBAL', "Global", "Tripo's API v3 at openapi.tripo3d.ai (keys from developers.tripo3d.ai)", 0),
            ('CHINA', "China", "Tripo's API v3 at openapi.tripo3d.com (keys from developers.tripo3d.com)", 1),
            ('CUSTOM', "Custom", "Another address: a local emulator, or an older deployment. An address ending in "
             "/v2/openapi speaks Tripo's retired v2 API", 2),
        ),
        get=_get_region,
        set=_set_region,
    )
    api_custom: BoolProperty(
        name="Custom API Address",
        description="Custom was chosen: the API URL below is the user's (it may still be a region's address)",
        default=False,
        options={'HIDDEN'},
    )
    api_base_url: StringProperty(
        name="API URL",
        description="Base URL of the Tripo API. Anything ending in /v2/openapi speaks Tripo's retired API v2 (kept "
        "for the local emulator and older deployments); everything else speaks v3",
        default=settings.DEFAULT_BASE_URL,
        update=_clean_url,
    )

    # -- files -----------------------------------------------------------------------------------------------
    download_dir: StringProperty(
        name="Download Folder",
        description="Where results are downloaded (a folder you own: it stays when the add-on is removed). "
        "Empty: Tripo in your Documents folder (or your home folder)",
        subtype='DIR_PATH',
        update=_changed,
    )

    # -- import ----------------------------------------------------------------------------------------------
    auto_import: BoolProperty(
        name="Import When Finished",
        description="Import results as soon as their task finishes (otherwise use the Import button in the task list)",
        default=True,
    )
    place_at_cursor: BoolProperty(
        name="Place at 3D Cursor",
        description="Put new models on the 3D cursor (post-processed models replace their source's place)",
        default=True,
    )
    target_size: FloatProperty(
        name="Target Size",
        description="Scale imported models so their largest dimension has this size. 0: keep Tripo's size",
        default=0.0,
        min=0.0,
        soft_max=10.0,
        subtype='DISTANCE',
        unit='LENGTH',
    )
    turn: EnumProperty(
        name="Turn",
        description="Turn new models about the vertical axis (around their bottom centre), e.g. to face the "
        "Front view. Your own meshes sent back keep their orientation",
        items=(
            ('0', "As Delivered", "Keep Tripo's orientation"),
            ('90', "90\u00b0", "Turn a quarter counter-clockwise (seen from above)"),
            ('180', "180\u00b0", "Turn around"),
            ('-90', "-90\u00b0", "Turn a quarter clockwise (seen from above)"),
        ),
        default='0',
    )
    collection_per_task: BoolProperty(
        name="One Collection per Task",
        description="Put each result in its own collection named after the task",
        default=True,
    )
    merge_vertices: BoolProperty(
        name="Merge Vertices",
        description="Join the vertices glTF splits at seams and sharp edges (glTF importer option)",
        default=True,
    )
    hide_source: BoolProperty(
        name="Hide Source After Post-Processing",
        description="Hide the object a post-processed result replaces",
        default=True,
    )

    # -- network ---------------------------------------------------------------------------------------------
    proxy: StringProperty(
        name="Proxy",
        description="HTTP(S) proxy, e.g. http://proxy.example.com:3128. Empty: the system settings "
        "(HTTPS_PROXY, NO_PROXY)",
        update=_changed,
    )
    ca_bundle: StringProperty(
        name="CA Bundle",
        description="PEM file of extra trusted certificate authorities (company TLS inspection). Empty: default",
        subtype='FILE_PATH',
        update=_changed,
    )
    max_parallel: IntProperty(
        name="Parallel Tasks",
        description="How many Tripo tasks may run at once (Tripo's own limit is 10, or less for some types). "
        "Applies at once",
        default=10,
        min=1,
        max=10,
        update=lambda _self, context: runtime.parallel_changed(context),
    )
    confirm_above: FloatProperty(
        name="Confirm Above",
        description="Ask before sending anything estimated to cost more credits than this (a whole pipeline counts "
        "as one). Scripts pass confirm_cost=True instead. 0: never ask",
        default=0.0,
        min=0.0,
        soft_max=1000.0,
        precision=1,
    )
    show_section: EnumProperty(
        name="Section",
        items=(
            ('ACCOUNT', "Account", "API key and connection"),
            ('IMPORT', "Import", "How results land in the scene"),
            ('NETWORK', "Network", "Proxy, certificates, folders"),
        ),
        default='ACCOUNT',
    )

    def draw(self, context):
        draw_preferences(self, self.layout, context)


def draw_preferences(prefs, layout, context) -> None:
    reason = settings.offline_reason()
    if reason:
        layout.label(text=reason, icon='ERROR')
    layout.row().prop(prefs, "show_section", expand=True)
    box = layout.box()
    if prefs.show_section == 'ACCOUNT':
        box.prop(prefs, "api_key")
        if not prefs.api_key.strip():
            text = (
                f"Using the {settings.ENV_KEY} environment variable"
                if settings.key_source(prefs) == "env"
                else "Get a key at developers.tripo3d.ai (API keys start with tsk_)"
            )
            box.label(text=text, icon='INFO')
        box.row().prop(prefs, "api_region", expand=True)
        sub = box.row()
        sub.enabled = prefs.api_region == 'CUSTOM'
        sub.prop(prefs, "api_base_url")
        if settings.api_version(prefs) == "v2":
            box.label(text="This address speaks Tripo's retired API v2 (emulator / older deployments)", icon='INFO')
        box.prop(prefs, "confirm_above")
        box.operator("tripo.test_connection", icon='URL')
        state = getattr(context.window_manager, "tripo", None)
        if state is not None and state.connection_text:
            icon = 'SORTTIME' if state.checking else ('CHECKMARK' if state.connection_ok else 'ERROR')
            box.label(text=state.connection_text, icon=icon)
    elif prefs.show_section == 'IMPORT':
        for name in ("auto_import", "place_at_cursor", "target_size", "turn", "collection_per_task",
                     "merge_vertices", "hide_source"):
            box.prop(prefs, name)
    else:
        box.prop(prefs, "download_dir")
        problem = settings.download_folder_note(prefs)
        if problem:
            box.label(text=problem, icon='ERROR')
        elif not prefs.download_dir.strip():
            box.label(text=f"Default: {settings.default_download_dir()}", icon='FILE_FOLDER')
            box.label(text="Results stay there when the add-on is removed; .blend files keep pointing at them",
                      icon='INFO')
        box.prop(prefs, "proxy")
        box.prop(prefs, "ca_bundle")
        box.prop(prefs, "max_parallel")


CLASSES = (TRIPO_AddonPreferences,)
