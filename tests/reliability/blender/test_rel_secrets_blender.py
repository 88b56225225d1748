"""The API key never reaches a .blend file (compressed or not), the task list, panels, operator reports or the
job log, after successes and failures in Blender."""

from __future__ import annotations

import logging

import bpy
import pytest
from blender_helpers import drain_until


def _key_bytes(key: str) -> list[bytes]:
    secret = key[len("tsk_"):]
    return [key.encode(), secret.encode(), key.encode("utf-16-le")]


def _blend_bytes(path) -> bytes:
    data = path.read_bytes()
    if data[:4] == b"\x28\xb5\x2f\xfd":  # zstd (Blender >= 3.0 compression)
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(data).read()
    if data[:2] == b"\x1f\x8b":  # gzip (older files)
        import gzip

        return gzip.decompress(data)
    return data


@pytest.mark.parametrize("compress", [False, True], ids=["uncompressed", "compressed"])
def test_key_never_in_a_saved_blend(ext, connected, tmp_path, compress, caplog):
    caplog.set_level(logging.DEBUG)
    key = connected.api_key
    assert bpy.ops.tripo.text_to_model(prompt="a chair to save", wait=True) == {'FINISHED'}
    connected.emulator.inject(route="create", kind="fail_task", match={"key": key})
    with pytest.raises(RuntimeError) as failed:
        bpy.ops.tripo.text_to_model(prompt="a chair that fails", wait=True)
    bpy.ops.tripo.refresh_balance()
    bpy.ops.tripo.test_connection()
    state = bpy.context.window_manager.tripo
    drain_until(ext, lambda: not state.checking and state.connection_text)

    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=compress, copy=True)
    raw = path.read_bytes()
    if compress:
        assert raw[:7] != b"BLENDER"  # really compressed
    data = _blend_bytes(path)
    assert data[:7] == b"BLENDER"
    assert b"tripo_task_id" in data  # the file is searchable: provenance is in it
    for needle in _key_bytes(key):
        assert needle not in data and needle not in raw

    texts = [str(failed.value), state.connection_text, state.notice]
    texts += [f"{t.name} {t.error} {t.notice} {t.task_id}" for t in state.tasks]
    texts += [r.getMessage() for r in caplog.records]
    for t in texts:
        assert key not in t and key[4:] not in t, t
    for f in ext.runtime.state_dir().rglob("*"):
        if f.is_file():
            for needle in _key_bytes(key):
                assert needle not in f.read_bytes(), f


def test_key_not_in_scene_or_window_manager_properties(ext, connected):
    key = connected.api_key
    bpy.ops.tripo.text_to_model(prompt="a chair", wait=True)

    def walk(ptr, depth=0, seen=None):
        seen = seen if seen is not None else set()
        if depth > 4 or ptr is None or id(ptr) in seen:
            return
        seen.add(id(ptr))
        for prop in ptr.bl_rna.properties:
            if prop.identifier == "rna_type":
                continue
            try:
                value = getattr(ptr, prop.identifier)
            except Exception:
                continue
            if prop.type == 'STRING':
                assert key not in value, f"{ptr!r}.{prop.identifier}"
            elif prop.type == 'POINTER' and value is not None and hasattr(value, "bl_rna"):
                walk(value, depth + 1, seen)
            elif prop.type == 'COLLECTION':
                for item in list(value)[:50]:
                    walk(item, depth + 1, seen)

    walk(bpy.context.window_manager.tripo)
    for scene in bpy.data.scenes:
        for name in dir(scene):
            if name.startswith("tripo"):
                walk(getattr(scene, name))
    for obj in bpy.data.objects:
        for k in obj.keys():
            assert key not in str(obj[k])
