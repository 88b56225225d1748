"""Register and unregister everything, in order: classes forward, pointer properties after them, menus, handlers;
the reverse on unregister (the engine's workers stop first, so no thread outlives the add-on)."""

import logging

import bpy

from . import assets_panels, game_panel, operators, panels, panels_v3, poller, preferences, properties

log = logging.getLogger(__name__)

CLASSES = (
    *properties.CLASSES,
    *preferences.CLASSES,
    *operators.CLASSES,
    *poller.CLASSES,
    *panels.CLASSES,
    *game_panel.CLASSES,
    *panels_v3.CLASSES,
    *assets_panels.CLASSES,  # assets (issue 19): batch subpanel, its operators and settings
)

_registered: list[type] = []


def register():
    try:
        for cls in CLASSES:
            bpy.utils.register_class(cls)
            _registered.append(cls)
        properties.attach()
        game_panel.attach()
        assets_panels.attach()
        for menu, func in panels.MENUS:
            getattr(bpy.types, menu).append(func)
    except Exception:
        unregister()  # leave nothing half-registered behind
        raise
    try:
        poller.install()
    except Exception:  # the task list can be rebuilt later; registration must not fail on the journal
        log.exception("Tripo: could not restore earlier jobs")


def unregister():
    poller.uninstall()
    for menu, func in panels.MENUS:
        menu_type = getattr(bpy.types, menu, None)
        if menu_type is not None:
            menu_type.remove(func)
    properties.detach()
    assets_panels.detach()
    try:
        game_panel.detach()
    except Exception:  # half-registered: nothing to detach
        log.debug("game panel detach skipped", exc_info=True)
    while _registered:
        cls = _registered.pop()
        try:
            bpy.utils.unregister_class(cls)
        except RuntimeError:
            log.warning("Tripo: %s was not registered", cls.__name__)
