"""Register and unregister everything, in order: classes forward (parent panels before their subpanels, in the
sidebar's order: Generate, Selected, Tasks, Account), pointer properties after them, menus, the status bar, handlers;
the reverse on unregister (the engine's workers stop first, so no thread outlives the add-on)."""

import logging

import bpy

from . import (
    assets_panels,
    feedback,
    game_panel,
    menus,
    operators,
    panels,
    panels_generate,
    panels_selected,
    panels_v3,
    poller,
    preferences,
    properties,
    scene_io,
)

log = logging.getLogger(__name__)

CLASSES = (
    *properties.CLASSES,
    *preferences.CLASSES,
    *operators.CLASSES,
    *poller.CLASSES,
    *feedback.CLASSES,
    *panels_generate.CLASSES,
    *panels_v3.CLASSES,
    *panels_selected.CLASSES,
    *panels.CLASSES,
    *game_panel.CLASSES,
    *menus.CLASSES,
    *assets_panels.CLASSES,  # assets (issue 19): batch, variants, lineage, library subpanels
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
        for menu, func in menus.MENUS:
            getattr(bpy.types, menu).append(func)
        feedback.install()
        scene_io.install()
    except Exception:
        unregister()  # leave nothing half-registered behind
        raise
    try:
        poller.install()
    except Exception:  # the task list can be rebuilt later; registration must not fail on the journal
        log.exception("Tripo: could not restore earlier jobs")


def unregister():
    poller.uninstall()
    scene_io.uninstall()
    feedback.uninstall()
    for menu, func in menus.MENUS:
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
