"""API v3 features in Blender against the emulator's v3: four views (edit, model, pipeline, the image slot), Image to
Image with references, Smart UV, depth images and splats. Each test looks at what lands in the scene."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from blender_helpers import MODULE, drain_until, new_objects
from recorder import Recorder, draw
from test_pipelines import make_png

VIEWS = ("front", "left", "back", "right")


@pytest.fixture
def splat(addon):
    import importlib

    return importlib.import_module(f"{MODULE}.blender.importers.splat")


@pytest.fixture
def v3(connected):
    """``connected`` with the add-on speaking v3 to the emulator's root."""
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    return connected


def creates(v3, route: str) -> list[dict]:
    return [r for r in v3.emulator.requests(method="POST", key=v3.api_key) if r["path"].endswith(route)]


def view_images(task_id=None) -> dict:
    return {img["tripo_view"]: img for img in bpy.data.images
            if img.get("tripo_view") and (task_id is None or img.get("tripo_task_id") == task_id)}


def settle(ext, tasks, timeout: float = 90.0) -> None:
    """Pump until every row succeeded and was imported; on timeout the assertion lists the rows."""
    try:
        drain_until(ext, lambda: all(t.state == "succeeded" and t.imported for t in tasks), timeout=timeout)
    except AssertionError:
        rows = [(t.name, t.state, t.status, t.imported, t.notice, t.error) for t in tasks]
        raise AssertionError(f"rows did not settle: {rows}") from None


def make_views(v3, **kwargs):
    png = make_png(v3.tmp / "cat.png", size=256)
    assert bpy.ops.tripo.image_to_multiview(file=str(png), wait=True, **kwargs) == {'FINISHED'}
    return bpy.context.scene.tripo_v3.views_task


# ------------------------------------------------------------------------------------------ 1. four views
def test_four_views_land_as_images_with_thumbnails(v3, ext, monkeypatch):
    tid = make_views(v3)
    assert len(creates(v3, "/v3/generation/image-to-multiview")) == 1
    images = view_images(tid)
    assert sorted(images) == sorted(VIEWS)
    for view, img in images.items():
        assert img.size[0] > 0 and img.use_fake_user and img["tripo_task_type"] == "generate_multiview_image"
        assert img.name.endswith(view)
        assert img.filepath in ext.previews._collection  # the preview icon of the thumbnail
    monkeypatch.setattr(ext.previews, "icon_id", lambda p: 7 if p else 0)
    rec = draw(bpy.types.TRIPO_PT_views)
    assert len([c for c in rec.calls if c[0] == "template_icon"]) == 4
    assert {"tripo.edit_multiview", "tripo.views_to_model", "tripo.use_image_as_input"} <= set(rec.ops())


def test_generated_operator_downloads_the_views_too(v3):
    png = make_png(v3.tmp / "dog.png", size=256)
    assert bpy.ops.tripo.generate_multiview_image(file=str(png), wait=True) == {'FINISHED'}
    assert len(view_images(bpy.context.scene.tripo_v3.views_task)) == 4


def test_views_from_a_generated_blender_image(v3):
    img = bpy.data.images.new("Sketch", 256, 256)  # never saved: written to a PNG first
    img.pixels.foreach_set(np.tile([0.2, 0.6, 0.9, 1.0], 256 * 256).astype(np.float32))
    assert bpy.ops.tripo.image_to_multiview(image="Sketch", wait=True) == {'FINISHED'}
    assert len(view_images(bpy.context.scene.tripo_v3.views_task)) == 4
    assert any(r["path"].endswith("/v3/files") for r in v3.emulator.requests(method="POST", key=v3.api_key))


def test_edit_views_then_model_from_them(v3):
    first = make_views(v3)
    assert bpy.ops.tripo.edit_multiview(front="wearing a red scarf", back="with a backpack",
                                        wait=True) == {'FINISHED'}
    edit = creates(v3, "/v3/generation/edit-multiview")[-1]
    assert edit["body"]["prompts"] in ([{"view": "front", "prompt": "wearing a red scarf"},
                                        {"view": "back", "prompt": "with a backpack"}],
                                       {"front": "wearing a red scarf", "back": "with a backpack"})
    second = bpy.context.scene.tripo_v3.views_task
    assert second != first and len(view_images(second)) == 4  # the edited set is shown now
    rec = draw(bpy.types.TRIPO_PT_views)  # both sets can be shown again, the newest pressed
    assert [v["task_id"] for v in rec.op_values("tripo.set_views")] == [first, second]
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.views_to_model(wait=True) == {'FINISHED'}
    body = creates(v3, "/v3/generation/multiview-to-model")[-1]["body"]
    assert second in str(body)  # made from the edited views, by their task id
    objs = new_objects(before)
    assert any(o.type == 'MESH' for o in objs)
    assert all(o["tripo_task_type"] == "multiview_to_model" for o in objs)


def test_model_from_chosen_views_only(v3):
    make_views(v3)
    s = bpy.context.scene.tripo_v3
    s.use_left = s.use_right = False
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.views_to_model(from_sidebar=True, wait=True) == {'FINISHED'}
    body = creates(v3, "/v3/generation/multiview-to-model")[-1]["body"]
    slots = body.get("inputs") or body.get("files")
    assert len(slots) == 4 and slots[0] and slots[2] and not slots[1] and not slots[3]
    assert any(o.type == 'MESH' for o in new_objects(before))


def test_front_view_is_required(v3):
    make_views(v3)
    n = len(v3.emulator.requests(method="POST", key=v3.api_key))
    with pytest.raises(RuntimeError, match="front view is required"):
        bpy.ops.tripo.views_to_model(views={"BACK", "LEFT"}, wait=True)
    assert len(v3.emulator.requests(method="POST", key=v3.api_key)) == n


def test_pipeline_image_views_model(v3):
    png = make_png(v3.tmp / "robot.png", size=256)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.run_pipeline(pipeline='IMAGE_TO_VIEWS_TO_MODEL', image=str(png), wait=True) == {'FINISHED'}
    assert any(o.type == 'MESH' for o in new_objects(before))
    assert len(view_images(bpy.context.scene.tripo_v3.views_task)) == 4  # what the model was made from
    mv = creates(v3, "/v3/generation/image-to-multiview")[-1]["task_id"]
    assert mv in str(creates(v3, "/v3/generation/multiview-to-model")[-1]["body"])


def test_second_image_task_waits_for_the_image_slot(v3, ext):
    a = make_png(v3.tmp / "a.png", size=256)
    b = make_png(v3.tmp / "b.png", size=256)
    v3.emulator.configure(time_scale=0.05)
    try:
        assert bpy.ops.tripo.image_to_multiview(file=str(a)) == {'FINISHED'}
        assert bpy.ops.tripo.image_to_multiview(file=str(b)) == {'FINISHED'}
        tasks = bpy.context.window_manager.tripo.tasks
        waiting = drain_until(ext, lambda: [t for t in tasks if t.notice.startswith("Waiting for the image slot")])
        assert len(waiting) == 1  # whichever upload ends first takes the slot; the other one waits
        rec = Recorder()
        state = bpy.context.window_manager.tripo
        bpy.types.TRIPO_UL_tasks.draw_item(None, bpy.context, rec, state, waiting[0], 0, state, "active_task")
        assert [c for c in rec.calls if c[0] == "progress" and c[2]["text"] == "waiting for the image slot"]
        settle(ext, tasks)
    finally:
        v3.emulator.configure(time_scale=0.01)
    assert not [r for r in v3.emulator.requests(key=v3.api_key) if r["status"] == 429]  # queued here, never refused
    assert len({img["tripo_task_id"] for img in bpy.data.images if img.get("tripo_view")}) == 2


def test_image_slot_held_elsewhere_waits_too(v3, ext):
    """The image slot taken by a task from elsewhere (the website, a script): Tripo answers 429, the row says why."""
    from tripo_addon.api.client import TripoClient

    png = make_png(v3.tmp / "a.png", size=256)
    v3.emulator.configure(time_scale=0.05)
    other = TripoClient(api_key=v3.api_key, base_url=v3.emulator.v3_base_url)
    try:
        other.create_task("text_to_image", {"prompt": "a lighthouse"})  # 0.6 s of the account's image slot
        assert bpy.ops.tripo.image_to_multiview(file=str(png)) == {'FINISHED'}
        tasks = bpy.context.window_manager.tripo.tasks
        row = drain_until(ext, lambda: [t for t in tasks if t.notice.startswith("Waiting for a free slot")])[0]
        rec = Recorder()
        state = bpy.context.window_manager.tripo
        bpy.types.TRIPO_UL_tasks.draw_item(None, bpy.context, rec, state, row, 0, state, "active_task")
        assert [c for c in rec.calls if c[0] == "progress" and c[2]["text"] == "waiting for the image slot"]
        settle(ext, tasks)
    finally:
        other.close()
        v3.emulator.configure(time_scale=0.01)
    assert [r for r in v3.emulator.requests(key=v3.api_key) if r["status"] == 429]


# ------------------------------------------------------------------------------------------ 2. image to image
def test_image_to_image_with_file_and_blender_references(v3):
    ref1 = make_png(v3.tmp / "hero.png", size=256)
    pose = bpy.data.images.new("Pose", 256, 256)
    pose.pixels.foreach_set(np.tile([0.9, 0.9, 0.1, 1.0], 256 * 256).astype(np.float32))
    before = set(bpy.data.images)
    assert bpy.ops.tripo.image_to_image(prompt="image[1] in the pose of image[2]", files=[{"name": str(ref1)}],
                                        images=[{"name": "Pose"}], model_version="banana", template="t_pose",
                                        wait=True) == {'FINISHED'}
    body = creates(v3, "/v3/generation/image-to-image")[-1]["body"]
    assert len(body["inputs"]) == 2 and body["model"] == "banana" and body["template"] == "t_pose"
    results = [i for i in bpy.data.images if i not in before and i.get("tripo_task_type") == "generate_image"]
    assert len(results) == 1 and results[0].size[0] > 0
    # the result feeds the Generate panel's image slot
    assert bpy.ops.tripo.use_image_as_input(image=results[0].name, target='GENERATE') == {'FINISHED'}
    settings = bpy.context.scene.tripo
    assert settings.mode == 'IMAGE' and bpy.path.abspath(settings.image).endswith((".png", ".webp", ".jpg"))
    assert bpy.ops.tripo.use_image_as_input(image=results[0].name, target='REFERENCE') == {'FINISHED'}
    assert bpy.ops.tripo.use_image_as_input(image=results[0].name, target='VIEW_BACK') == {'FINISHED'}
    assert settings.mode == 'MULTIVIEW' and settings.back.endswith(".png")
    assert bpy.context.scene.tripo_v3.references[-1].image == results[0]


def test_image_to_image_from_the_sidebar(v3):
    s = bpy.context.scene.tripo_v3
    s.i2i_prompt = "a cleaner version of image[1]"
    ref = s.references.add()
    ref.path = str(make_png(v3.tmp / "ref.png", size=256))
    assert bpy.ops.tripo.image_to_image(from_sidebar=True, wait=True) == {'FINISHED'}
    body = creates(v3, "/v3/generation/image-to-image")[-1]["body"]
    assert body.get("input") or len(body.get("inputs") or []) == 1
    rec = draw(bpy.types.TRIPO_PT_image_to_image)
    assert "References (1 of up to 4)" in rec.text() and "tripo.image_to_image" in rec.ops()


def test_too_many_references_for_the_model(v3):
    refs = [{"name": str(make_png(v3.tmp / f"r{i}.png", size=64))} for i in range(5)]
    with pytest.raises(RuntimeError, match="at most 4 reference images"):
        bpy.ops.tripo.image_to_image(prompt="mix them", files=refs, wait=True)
    assert not v3.emulator.requests(method="POST", key=v3.api_key)


# ------------------------------------------------------------------------------------------ 3. smart UV
def test_smart_uv_on_a_tripo_result(v3):
    assert bpy.ops.tripo.text_to_model(prompt="a wooden crate", wait=True) == {'FINISHED'}
    src = bpy.context.active_object
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.mesh_uv(wait=True) == {'FINISHED'}
    body = creates(v3, "/v3/mesh/uv")[-1]["body"]
    assert src["tripo_task_id"] in str(body)
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes and all(o.data.uv_layers for o in meshes)
    img = bpy.data.images[meshes[0]["tripo_uv_render"]]
    assert img.size[:] == (512, 512) and img["tripo_task_type"] == "mesh_uv"
    mesh = bpy.types.TRIPO_PT_active_mesh  # Selected > Mesh shows the UV layout render
    rec = draw(mesh, types=mesh.types)
    assert "tripo.show_image" in rec.ops()
    assert bpy.ops.tripo.show_image() == {'FINISHED'}


def test_smart_uv_on_your_own_mesh(v3, user_mesh):
    assert not user_mesh.data.uv_layers
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.mesh_uv(wait=True) == {'FINISHED'}
    assert creates(v3, "/v3/models/import") and creates(v3, "/v3/mesh/uv")
    meshes = [o for o in new_objects(before) if o.type == 'MESH']
    assert meshes and meshes[0].data.uv_layers and meshes[0].get("tripo_uv_render") in bpy.data.images


# ------------------------------------------------------------------------------------------ 9. depth and splats
def test_depth_image_and_displaced_plane(v3):
    png = make_png(v3.tmp / "face.png", size=256)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.depth_from_image(file=str(png), plane=True, strength=0.5, wait=True) == {'FINISHED'}
    depth = [i for i in bpy.data.images if i.get("tripo_depth")]
    assert len(depth) == 1 and depth[0].size[0] > 0
    (plane,) = new_objects(before)
    mod = plane.modifiers["Tripo Depth"]
    assert mod.type == 'DISPLACE' and mod.texture.image == depth[0] and mod.strength == pytest.approx(0.5)
    ev = plane.evaluated_get(bpy.context.evaluated_depsgraph_get())
    ys = [v.co.z for v in ev.to_mesh().vertices]  # local Z: the displacement along the plane's normal
    assert max(ys) - min(ys) > 0.1  # the picture's disc stands out of the plane
    ev.to_mesh_clear()


def test_depth_image_only(v3):
    png = make_png(v3.tmp / "face.png", size=256)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.depth_from_image(file=str(png), kind='color', wait=True) == {'FINISHED'}
    assert not new_objects(before)
    assert creates(v3, "/v3/generation/image-to-depth")[-1]["body"]["kind"] == "color"
    assert [i for i in bpy.data.images if i.get("tripo_depth")]


def test_splat_as_coloured_points(v3, splat):
    png = make_png(v3.tmp / "vase.png", size=256)
    before = set(bpy.data.objects)
    assert bpy.ops.tripo.splat_from_image(file=str(png), wait=True) == {'FINISHED'}
    (obj,) = new_objects(before)
    records = splat.parse(open(obj["tripo_splat_file"], "rb").read())
    mesh = obj.data
    assert len(mesh.vertices) == records.n == 4096
    col = mesh.color_attributes["Col"]
    assert mesh.color_attributes.active_color.name == "Col" and col.domain == 'POINT'
    got = np.empty(records.n * 4, np.float32)
    col.data.foreach_get("color", got)
    rgba = np.frombuffer(records.rgba, np.uint8).reshape(-1, 4) / 255.0
    want = np.where(rgba[:, :3] <= 0.04045, rgba[:, :3] / 12.92, ((rgba[:, :3] + 0.055) / 1.055) ** 2.4)
    assert np.allclose(got.reshape(-1, 4)[:, :3], want, atol=1e-4)
    assert np.allclose(got.reshape(-1, 4)[:, 3], rgba[:, 3], atol=1e-6)
    # positions Y-up in the file, Z-up in Blender: (x, y, z) -> (x, -z, y)
    co = np.empty(records.n * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    pos = np.frombuffer(records.pos, np.float32).reshape(-1, 3)
    assert np.allclose(co.reshape(-1, 3), np.stack([pos[:, 0], -pos[:, 2], pos[:, 1]], axis=1), atol=1e-5)
    raw = np.frombuffer(open(obj["tripo_splat_file"], "rb").read(), np.float32).reshape(-1, 8)
    radius = np.empty(records.n, np.float32)
    mesh.attributes["radius"].data.foreach_get("value", radius)
    assert np.allclose(radius, np.clip(np.abs(raw[:, 3:6]).mean(axis=1), 1e-5, None), rtol=1e-5)
    assert obj.modifiers["Splat Points"].node_group.name == "Tripo Splat Points"
    assert "not shown" in obj["tripo_note"]


def test_splat_file_that_is_not_one(ext, splat):
    with pytest.raises(ext.scene_io.ImportFailed, match="not a multiple of 32"):
        splat.parse(b"\0" * 33)
    with pytest.raises(ext.scene_io.ImportFailed, match="empty"):
        splat.parse(b"")


# ------------------------------------------------------------------------------------------ panels, menus, v2
def test_panels_draw_and_say_when_the_address_speaks_v2(connected):
    connected.prefs.api_base_url = connected.emulator.v2_base_url
    for name in ("TRIPO_PT_views", "TRIPO_PT_depth_splat"):
        rec = draw(getattr(bpy.types, name))
        assert "v3" in rec.text() and not rec.ops(), name  # the emulator's v2 address: v3-only tasks
    assert "tripo.image_to_image" in draw(bpy.types.TRIPO_PT_image_to_image).ops()  # v2 has generate_image too
    connected.prefs.api_base_url = connected.emulator.v3_base_url
    assert "tripo.splat_from_image" in draw(bpy.types.TRIPO_PT_depth_splat).ops()
    assert "tripo.image_to_multiview" in draw(bpy.types.TRIPO_MT_add).ops()


def test_v3_generators_under_add_tripo(addon):
    ops = draw(bpy.types.TRIPO_MT_add).ops()
    assert {"tripo.image_to_multiview", "tripo.edit_multiview", "tripo.image_to_image",
            "tripo.depth_from_image", "tripo.splat_from_image"} <= set(ops)
