"""Issue 17 in Blender (the add-on side): Smart Segment from the operator (a Tripo result, your own mesh, an image),
compress refused where the glTF importer cannot open the result (and the import failure that prevents), checks
before any credit (.gltf, Smart UV's 80,000 triangles, v2.5-gated options), OBJ conversions from their ZIP, auto_size
not scaled twice, approximate prices marked "≈".

Every test looks at what a user gets: objects and their names, images, messages, the requests the emulator received.
"""

from __future__ import annotations

import importlib
import zipfile

import bpy
import pytest
from blender_helpers import MODULE, get_prefs, new_objects

WAIT = 60.0


@pytest.fixture
def v3(connected):
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    yield connected


def creates(emulator, key: str, path: str | None = None) -> list[dict]:
    return [r for r in emulator.requests(method="POST", key=key) if r["route"] == "create"
            and (path is None or r["path"].rstrip("/").endswith(path))]


def _model(prompt: str = "a robot with a head and two arms", **kw) -> bpy.types.Object:
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.text_to_model(prompt=prompt, wait=True, **kw) == {'FINISHED'}
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes
    bpy.context.view_layer.objects.active = meshes[0]
    for o in bpy.context.view_layer.objects:
        o.select_set(o in meshes)
    return meshes[0]


def _mod(name: str):
    return importlib.import_module(f"{MODULE}.blender.{name}")


# ==================================================================================================== Smart Segment
def _check_segment_result(before, v3, *, hint: str | None = None):
    objs = new_objects(before)
    meshes = [o for o in objs if o.type == 'MESH']
    assert meshes, [o.name for o in objs]
    seg = creates(v3.emulator, v3.api_key, "/mesh/smartsegment")
    assert len(seg) == 1
    seg_id = meshes[0]["tripo_task_id"]
    assert meshes[0]["tripo_task_type"] == "mesh_segmentation" and seg_id != meshes[0]["tripo_smart_segment_task"]
    prompt = meshes[0]["tripo_parts"]
    names = [n.strip() for n in prompt.split(",")]
    assert all(o.get("tripo_part_name") in names for o in meshes)  # every part named from Tripo's prompt
    assert {o.name.split(".")[0] for o in meshes} <= set(names)
    mask = bpy.data.images.get(meshes[0]["tripo_mask"])
    assert mask is not None and mask.size[0] > 0 and mask.get("tripo_mask")
    if hint:
        assert seg[0]["body"]["hint"] == hint
    return seg[0]["body"], seg_id, meshes


def test_smart_segment_a_tripo_result_then_complete_it(ext, v3):
    _model()
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.smart_segment(hint="head, body, arms", granularity="fine", wait=True) == {'FINISHED'}
    body, seg_id, meshes = _check_segment_result(before, v3, hint="head, body, arms")
    assert body["seg_type"] == "model" and body["granularity"] == "fine"
    assert body["input"].startswith("http") and len(body["transform"]) == 16  # R9: the GLB by URL + 16 floats
    imports = creates(v3.emulator, v3.api_key, "/models/import")
    assert len(imports) == 1  # the selection went in as a free import, its model URL was segmented
    bpy.context.view_layer.objects.active = meshes[0]
    assert bpy.ops.tripo.mesh_completion(wait=True) == {'FINISHED'}  # seg_task_id works like any segmentation
    assert creates(v3.emulator, v3.api_key, "/mesh/complete")[-1]["body"]["input"] == seg_id


def test_smart_segment_your_own_mesh(ext, v3, user_mesh):
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.smart_segment(wait=True) == {'FINISHED'}
    body, _seg_id, _meshes = _check_segment_result(before, v3)
    assert body["transform"] == [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    assert not user_mesh.visible_get() or user_mesh.name in bpy.data.objects


def test_smart_segment_an_image(ext, v3, tmp_path):
    img = bpy.data.images.new("robot", 320, 320)
    img.filepath_raw = str(tmp_path / "robot.png")
    img.file_format = 'PNG'
    img.save()
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.smart_segment(seg_type="image", file=str(tmp_path / "robot.png"), hint="robot parts",
                                       wait=True) == {'FINISHED'}
    body, _seg_id, _meshes = _check_segment_result(before, v3, hint="robot parts")
    assert body["seg_type"] == "image" and body["input"].startswith("file_") and "transform" not in body


def test_smart_segment_is_reachable_from_f3_and_the_sidebar(ext, v3, user_mesh):
    ops = ext.operators
    mine = [c for c in ops.CLASSES if getattr(c, "bl_idname", "") == "tripo.smart_segment"]
    assert len(mine) == 1 and mine[0].bl_label == "Smart Segment"  # one operator, a proper name in F3
    rna = bpy.ops.tripo.smart_segment.get_rna_type()
    assert rna.name == "Smart Segment" and "parts" in rna.description and "hint" in rna.description
    assert [c for c in ops.CLASSES if getattr(c, "bl_label", "") == "Smart Segment"] == mine
    menus, selected = _mod("menus"), _mod("panels_selected")
    in_menus = [m.bl_idname for m in menus.FAMILY_MENUS if "smart_segment" in m.types]
    assert in_menus == ["TRIPO_MT_mesh"]  # Object > Tripo > Mesh: F3 finds it there, once
    assert all(e is None or e[0] != "tripo.smart_segment" for e in menus.GENERATORS)
    assert [k for k, _l, _i, types in selected.FAMILIES if "smart_segment" in types] == ["mesh"]
    assert selected.applicable("smart_segment", bpy.context)  # the Selected panel's Mesh family offers it here
    seg = _mod("operators.segment")
    assert seg.source_problem(bpy.context) is None
    bpy.ops.object.select_all(action='DESELECT')
    bpy.context.view_layer.objects.active = None
    assert "Select a mesh" in seg.source_problem(bpy.context)
    with pytest.raises(RuntimeError, match="Select a mesh"):
        bpy.ops.tripo.smart_segment(wait=True)
    assert creates(v3.emulator, v3.api_key) == []


# ==================================================================================================== tasks/list (C1)
@pytest.mark.parametrize("shape", ["object", "array"])
def test_the_sidebar_flow_follows_tasks_through_either_list_shape(ext, v3, shape):
    """Submit as the sidebar does (no wait), and let the add-on's modal poller drive the job to an imported model,
    with the emulator answering tasks/list in ``shape``: every status came through the list, none by a GET."""
    import time
    from types import SimpleNamespace

    before_shape = v3.emulator.tasks_list_shape
    v3.emulator.configure(tasks_list_shape=shape)
    try:
        cls, fake_op = bpy.types.TRIPO_OT_poller, SimpleNamespace(_timer=None)
        before = set(bpy.data.objects)
        assert bpy.ops.tripo.text_to_model(prompt="a lantern") == {'FINISHED'}  # returns at once
        deadline, result = time.monotonic() + WAIT, None
        while time.monotonic() < deadline and result != {'FINISHED'}:
            result = cls.modal(fake_op, bpy.context, SimpleNamespace(type='TIMER'))
            time.sleep(0.05)
        assert result == {'FINISHED'}
    finally:
        v3.emulator.configure(tasks_list_shape=before_shape)
    objs = [o for o in new_objects(before) if o.type == 'MESH']
    assert objs and objs[0]["tripo_task_type"] == "text_to_model"
    routes = [r["route"] for r in v3.emulator.requests(key=v3.api_key)]
    assert routes.count("create") == 1 and "list" in routes and "poll" not in routes, routes


# ==================================================================================================== compress (R14)
def test_compress_is_refused_on_this_blender_with_the_reason(ext, v3):
    caps = _mod("gltf_caps")
    ok, reason = caps.meshopt_support(refresh=True)
    if bpy.app.version < (5, 3, 0):  # no released importer supports it (KhronosGroup/glTF-Blender-IO#2701)
        assert not ok and "EXT_meshopt_compression" in reason and ".".join(map(str, bpy.app.version)) in reason
    if ok:
        pytest.skip("this Blender's importer opens EXT_meshopt_compression")
    with pytest.raises(RuntimeError, match="EXT_meshopt_compression"):
        bpy.ops.tripo.text_to_model(prompt="a vase", model_version="v3.1-20260211", compress="geometry", wait=True)
    assert creates(v3.emulator, v3.api_key) == []  # nothing sent, nothing paid
    items = ext.catalog.enum_items_for(ext.catalog.param("text_to_model", "compress"))
    assert items[0][1] == "Off" and all("EXT_meshopt_compression" in i[2] for i in items)  # the tooltip says why


def test_compress_follows_what_the_importer_manages_not_the_version(ext, v3):
    """Detected, not assumed: an enabled add-on whose glTF import user-extension handles EXT_meshopt_compression
    (as Blender's importer gathers them) makes compress available on this very Blender; without it, refused again."""
    import sys

    from io_scene_gltf2.io.com.gltf2_io_extensions import Extension

    class MeshoptImport:  # the shape Blender's importer reads: ``extensions`` with required ones
        def __init__(self):
            self.extensions = [Extension(name="EXT_meshopt_compression", extension={}, required=True)]

    caps, addon = _mod("gltf_caps"), sys.modules[MODULE]
    assert MODULE in bpy.context.preferences.addons.keys()
    assert not caps.meshopt_support(refresh=True)[0] or pytest.skip("this Blender's importer opens it already")
    addon.glTF2ImportUserExtension = MeshoptImport
    try:
        assert caps.apply(refresh=True) == (True, "")
        assert ext.catalog.compress_problem() is None
        items = ext.catalog.enum_items_for(ext.catalog.param("text_to_model", "compress"))
        assert [i[0] for i in items][1:] == ["geometry"] and "unavailable" not in str(items)
        body = ext.tasks.build_request("text_to_model", {"prompt": "a vase", "model_version": "v3.1-20260211",
                                                         "compress": "geometry"}, api="v3")
        assert body["compress"] == "geometry"
    finally:
        del addon.glTF2ImportUserExtension
        caps.apply(refresh=True)
    assert ext.catalog.compress_problem() and "EXT_meshopt_compression" in ext.catalog.compress_problem()
    with pytest.raises(RuntimeError, match="EXT_meshopt_compression"):
        bpy.ops.tripo.text_to_model(prompt="a vase", model_version="v3.1-20260211", compress="geometry", wait=True)
    assert creates(v3.emulator, v3.api_key) == []


def test_the_emulators_compressed_glb_does_not_import_here(ext, v3, tmp_path):
    """What the refusal prevents: the paid result Blender's importer cannot open."""
    from tripo_addon.api.client import TripoClient

    caps = _mod("gltf_caps")
    if caps.meshopt_support(refresh=True)[0]:
        pytest.skip("this Blender's importer opens EXT_meshopt_compression")
    tasks = ext.tasks
    tasks.set_compress_support(True)  # a client elsewhere (not this Blender) asks for it
    try:
        c = TripoClient(api_key=v3.api_key, base_url=v3.emulator.v3_base_url, poll_min=0.05, poll_max=0.5)
        task = c.run("text_to_model", {"prompt": "a vase", "model_version": "v3.1-20260211",
                                       "compress": "geometry"}, timeout=WAIT)
        path = c.download(task.task_id, "model", tmp_path, output=task.output)
        c.close()
    finally:
        caps.apply(refresh=True)
    assert b"EXT_meshopt_compression" in path.read_bytes()[:4096]
    with pytest.raises(RuntimeError, match="EXT_meshopt_compression"):
        bpy.ops.import_scene.gltf(filepath=str(path))


# ==================================================================================================== before any credit
def test_gltf_import_is_refused_with_what_to_do(ext, v3, tmp_path):
    p = tmp_path / "chair.gltf"
    p.write_text('{"asset": {"version": "2.0"}}')
    with pytest.raises(RuntimeError, match="single-file GLB"):
        bpy.ops.tripo.import_model(file=str(p), wait=True)
    assert v3.emulator.requests(key=v3.api_key) == []


def test_smart_uv_over_80000_triangles_is_refused_with_the_count(ext, v3):
    bpy.ops.mesh.primitive_grid_add(x_subdivisions=200, y_subdivisions=200)  # 200 x 200 quads = 80,000 triangles
    grid = bpy.context.active_object
    assert _mod("mesh_limits").triangles([grid]) == 80_000
    assert _mod("mesh_limits").smart_uv_problem([grid]) is None  # the limit itself is allowed
    grid.modifiers.new("more", 'SUBSURF').levels = 1  # as sent: modifiers applied
    with pytest.raises(RuntimeError, match=r"80,000 triangles, and this model has 320,000"):
        bpy.ops.tripo.mesh_uv(wait=True)
    assert v3.emulator.requests(key=v3.api_key) == []


def test_v25_gated_options_are_refused_before_any_request(ext, v3):
    with pytest.raises(RuntimeError, match=r"`quad` needs generation model v3.0-20250812.*v2.5-20250123"):
        bpy.ops.tripo.text_to_model(prompt="a stool", model_version="v2.5-20250123", quad=True, wait=True)
    assert v3.emulator.requests(key=v3.api_key) == []


# ==================================================================================================== formats
def test_obj_conversion_imports_from_its_zip(ext, v3):
    _model("a wooden crate")
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.convert_model(format="OBJ", wait=True) == {'FINISHED'}
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes and all(len(o.data.vertices) > 0 for o in meshes)
    assert meshes[0]["tripo_task_type"] == "convert_model"
    assert creates(v3.emulator, v3.api_key, "/models/convert")[-1]["body"]["format"] == "OBJ"
    files = _last_files(ext)  # what Tripo sent was a ZIP (R10); the meshes above are the OBJ inside it
    assert len(files) == 1 and zipfile.is_zipfile(files[0]), files
    assert any(n.endswith(".obj") for n in zipfile.ZipFile(files[0]).namelist())


def test_auto_size_is_not_scaled_twice(ext, v3):
    get_prefs().target_size = 3.0
    try:
        plain = _model("a chair")
        assert max(plain.dimensions) == pytest.approx(3.0, rel=1e-3)  # Target Size applies to a normal result
        sized = _model("a chair", model_version="v3.1-20260211", auto_size=True)
        assert sized.get("tripo_auto_size") is True
        assert max(sized.dimensions) != pytest.approx(3.0, rel=1e-3)  # Tripo's real-world size is kept
        size = max(sized.dimensions)
        before = set(bpy.data.objects)  # a result made from it carries the size too (R6: baked in): not scaled
        assert bpy.ops.tripo.convert_model(format="OBJ", wait=True) == {'FINISHED'}
        made = [o for o in new_objects(before) if o.type == 'MESH']
        assert made and made[0].get("tripo_auto_size") is True
        assert max(made[0].dimensions) == pytest.approx(size, rel=1e-3)
    finally:
        get_prefs().target_size = 0.0


def _last_files(ext) -> list[str]:
    """The files the newest job downloaded (its last step's)."""
    job = ext.runtime.engine().jobs()[-1]
    return [str(f) for f in (job["steps"][-1].get("files") or [])]


def test_texture_of_a_quad_model_imports_its_fbx(ext, v3):
    _model("a helmet", model_version="v3.1-20260211", quad=True)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.texture_model(texture_prompt="rusty metal", wait=True) == {'FINISHED'}
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes and meshes[0]["tripo_task_type"] == "texture_model"
    assert any(f.endswith(".fbx") for f in _last_files(ext)), _last_files(ext)  # R7: Tripo's result is FBX


def test_texture_of_an_fbx_import_imports_its_fbx(ext, v3, tmp_path):
    bpy.ops.mesh.primitive_monkey_add()
    fbx = tmp_path / "monkey.fbx"
    bpy.ops.export_scene.fbx(filepath=str(fbx), use_selection=True)
    bpy.ops.object.delete()
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.import_model(file=str(fbx), wait=True) == {'FINISHED'}
    imported = [o for o in new_objects(before) if o.type == 'MESH']
    assert imported and imported[0]["tripo_task_type"] == "import_model"
    bpy.context.view_layer.objects.active = imported[0]
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.texture_model(texture_prompt="gold leaf", wait=True) == {'FINISHED'}
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes and meshes[0]["tripo_task_type"] == "texture_model" and len(meshes[0].data.polygons) > 0
    assert any(f.endswith(".fbx") for f in _last_files(ext)), _last_files(ext)  # R7: an FBX import's texture


# ==================================================================================================== prices
def test_approximate_prices_are_marked(ext):
    cost_ui = _mod("cost_ui")
    job = ext.pipelines.single("texture_model", {"original_model_task_id": "t", "texture_quality": "detailed"})
    assert cost_ui.lines(cost_ui.costs_of(job), job) == ["Estimated cost: \u224820 credits"]
    job = ext.pipelines.single("text_to_model", {"prompt": "x", "model_version": "v3.1-20260211"})
    assert cost_ui.lines(cost_ui.costs_of(job), job) == ["Estimated cost: 20 credits"]  # the published table
