"""Bad input, driven the way a Blender user hits it: operators (with wait=True, as a script or blender -b would),
their poll messages, and the add-on preferences.

Every case asserts that the message names what is wrong and what to do, that the emulator saw no POST /task from
the account, and that the balance did not move. A few inputs can only be judged by Tripo (a wrong key, no credits)
or after the task ran (a full disk): those say so in their row of docs/reliability.md.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass

import bpy
import pytest
from rel_helpers import (
    WAIT,
    clear_message,
    make_glb,
    make_png,
    make_png_header_only,
    settled_balance,
    task_posts,
)


@dataclass
class Case:
    id: str
    run: object            # fn(ctx) -> the message the user sees
    words: tuple           # what the message must mention (what is wrong + what to do)
    posts: int = 0         # POST /task the emulator may see from the account
    setup: object = None   # fn(ctx) before the balance is read


def op_message(call) -> str:
    """Run an operator call; the error it reports (bpy.ops raises RuntimeError on ERROR reports / failed poll)."""
    try:
        result = call()
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError(f"the operator accepted the input ({result})")


def tripo_object(task_type: str, version: str | None = None, name: str = "Result"):
    """An active, selected object that looks like an imported Tripo result of ``task_type``."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj["tripo_task_id"] = str(uuid.uuid4())
    obj["tripo_task_type"] = task_type
    if version:
        obj["tripo_model_version"] = version
    for o in bpy.context.scene.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def png(ctx, w=64, h=64, name="photo.png", **kw):
    return str(make_png(ctx.tmp / name, w, h, **kw))


# ---------------------------------------------------------------------------------------------------- the cases
def c_empty_prompt(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="   ", wait=True))


def c_long_prompt(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair " * 200, wait=True))


def c_emoji_prompt(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a happy cat \U0001F63A", wait=True))


def c_control_chars(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair\x07 with a bell", wait=True))


def c_long_negative(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", negative_prompt="ugly " * 60,
                                                          wait=True))


def c_not_an_image(ctx):
    fake = ctx.tmp / "holiday.png"
    fake.write_text("these are my notes, not a picture\n" * 20)
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=str(fake), wait=True))


def c_missing_image(ctx):
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=str(ctx.tmp / "gone.png"), wait=True))


def c_mesh_as_image(ctx):
    glb = make_glb(ctx.tmp / "model.glb")
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=str(glb), wait=True))


def c_tiny_image(ctx):
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=png(ctx, 10, 10), wait=True))


def c_huge_image(ctx):
    path = make_png_header_only(ctx.tmp / "huge.png", 7000, 7000)
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=str(path), wait=True))


def c_heavy_image(ctx):
    path = png(ctx, 64, 64, name="heavy.png", pad=30 * 1024 * 1024)
    return op_message(lambda: bpy.ops.tripo.image_to_model(file=path, wait=True))


def c_multiview_no_front(ctx):
    a, b = png(ctx, name="left.png"), png(ctx, name="back.png")
    return op_message(lambda: bpy.ops.tripo.multiview_to_model(left_image=a, back_image=b, wait=True))


def c_multiview_one_image(ctx):
    front = png(ctx, name="front.png")
    return op_message(lambda: bpy.ops.tripo.multiview_to_model(front_image=front, wait=True))


def c_face_limit_p1(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a crate", model_version="P1-20260311",
                                                          face_limit=30000, wait=True))


def c_face_limit_h2(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a crate", model_version="v2.5-20250123",
                                                          face_limit=900000, wait=True))


def c_quad_p1(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a crate", model_version="P1-20260311", quad=True,
                                                          wait=True))


def c_parts_with_texture(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a robot", generate_parts=True, texture=True,
                                                          wait=True))


def c_six_animations(ctx):
    tripo_object("animate_rig")
    six = "preset:idle,preset:walk,preset:run,preset:jump,preset:climb,preset:dive"
    op = bpy.ops.tripo.animate_retarget
    props = op.get_rna_type().properties
    if props["animations"].type == 'ENUM':
        value = {s for s in six.split(",")}
    else:
        value = six
    return op_message(lambda: op(animations=value, wait=True))


def c_retarget_not_rig(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.animate_retarget(animation="preset:walk", wait=True))


def c_completion_not_segmentation(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.mesh_completion(wait=True))


def c_refine_v25(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.refine_model(wait=True))


def c_obj_of_rigged(ctx):
    tripo_object("animate_rig")
    return op_message(lambda: bpy.ops.tripo.convert_model(format="OBJ", wait=True))


def c_block_size_lego(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.stylize_model(style="lego", block_size=64, wait=True))


def c_symmetry_without_quad(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.convert_model(format="FBX", force_symmetry=True, wait=True))


def c_texture_nothing(ctx):
    tripo_object("text_to_model", "v2.5-20250123")
    return op_message(lambda: bpy.ops.tripo.texture_model(texture=False, pbr=False, wait=True))


def c_non_mesh_active(ctx):
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    bpy.context.scene.collection.objects.link(cam)
    cam.select_set(True)
    bpy.context.view_layer.objects.active = cam
    return op_message(lambda: bpy.ops.tripo.texture_model(wait=True))


def c_empty_selection(ctx):
    for o in bpy.context.scene.objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = None
    return op_message(lambda: bpy.ops.tripo.import_model(wait=True))


def c_bad_glb_header(ctx):
    bad = ctx.tmp / "broken.glb"
    bad.write_bytes(b"PK\x03\x04 this is a zip, not a GLB" + b"\0" * 64)
    return op_message(lambda: bpy.ops.tripo.import_model(file=str(bad), wait=True))


def c_attach_bad_id(ctx):
    return op_message(lambda: bpy.ops.tripo.attach_task(task_id="my chair please"))


def c_no_key(ctx):
    ctx.prefs.api_key = ""
    os.environ.pop("TRIPO_API_KEY", None)
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_malformed_key(ctx):
    ctx.prefs.api_key = "sk-live-1234567890abcdef"
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_tcli_key(ctx):
    ctx.prefs.api_key = "tcli_0123456789abcdef0123456789abcdef"
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_http_base_url(ctx):
    ctx.prefs.api_base_url = "http://api.tripo3d.ai/v2/openapi"
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_garbage_base_url(ctx):
    ctx.prefs.api_base_url = "api tripo3d ai"
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_missing_ca_bundle(ctx):
    ctx.prefs.ca_bundle = str(ctx.tmp / "no-such-ca.pem")
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_wrong_key(ctx):
    """A well-formed key Tripo does not know: only Tripo can tell; Test Connection says so, and a task is refused."""
    ctx.emulator.set_strict_keys(True)
    try:
        ctx.prefs.api_key = "tsk_" + uuid.uuid4().hex  # never registered
        bpy.ops.tripo.test_connection()
        state = bpy.context.window_manager.tripo
        from blender_helpers import drain_until

        drain_until(ctx.ext, lambda: not state.checking and state.connection_text)
        conn = state.connection_text
        clear_message(conn, "key")
        return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))
    finally:
        ctx.emulator.set_strict_keys(False)


def s_no_credits(ctx):
    ctx.emulator.set_balance(ctx.api_key, 0)


def c_no_credits(ctx):
    return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))


def c_unwritable_folder(ctx):
    folder = ctx.tmp / "readonly"
    folder.mkdir()
    ro = _mount(folder, "ro")
    if not ro:
        folder.chmod(0o500)
    try:
        ctx.prefs.download_dir = str(folder)
        return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))
    finally:
        if ro:
            _umount(folder)
        folder.chmod(0o700)


def c_full_disk(ctx):
    folder = ctx.tmp / "full"
    folder.mkdir()
    if not _mount(folder, "size=16k"):
        pytest.skip("needs root and mount to make a tiny tmpfs (a full disk)")
    try:
        ctx.prefs.download_dir = str(folder)
        return op_message(lambda: bpy.ops.tripo.text_to_model(prompt="a chair", wait=True))
    finally:
        _umount(folder)


def _mount(folder, opts: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


def _umount(folder) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


CASES = [
    Case("empty prompt", c_empty_prompt, ("prompt",)),
    Case("over-long prompt (1600 chars)", c_long_prompt, ("prompt", "1024")),
    Case("emoji in the prompt", c_emoji_prompt, ("emoji",)),
    Case("control character in the prompt", c_control_chars, ("control",)),
    Case("over-long negative prompt", c_long_negative, ("negative_prompt", "255")),
    Case("a text file named .png", c_not_an_image, ("holiday.png", "png")),
    Case("image path that does not exist", c_missing_image, ("gone.png",)),
    Case("a GLB given as the image", c_mesh_as_image, ("model.glb", "image")),
    Case("10x10 image", c_tiny_image, ("10", "20")),
    Case("7000x7000 image", c_huge_image, ("7000", "6000")),
    Case("30 MB image", c_heavy_image, ("MB", "20")),
    Case("multiview without the front view", c_multiview_no_front, ("front",)),
    Case("multiview with one image", c_multiview_one_image, ("2",)),
    Case("face_limit 30000 with P1", c_face_limit_p1, ("face_limit", "20,000")),
    Case("face_limit 900000 with v2.5", c_face_limit_h2, ("face_limit", "500,000")),
    Case("quad with P1", c_quad_p1, ("quad", "P1")),
    Case("generate_parts with texture on", c_parts_with_texture, ("generate_parts", "texture")),
    Case("six animations", c_six_animations, ("animations", "5")),
    Case("retarget a model that is not a rig", c_retarget_not_rig, ("rig",)),
    Case("mesh_completion of a non-segmentation", c_completion_not_segmentation, ("segmentation",)),
    Case("refine a v2.5 draft", c_refine_v25, ("v2.0",)),
    Case("OBJ conversion of a rigged model", c_obj_of_rigged, ("OBJ", "rig")),
    Case("block_size with the lego style", c_block_size_lego, ("block_size", "minecraft")),
    Case("force_symmetry without quad", c_symmetry_without_quad, ("force_symmetry", "quad")),
    Case("texture_model with texture and pbr off", c_texture_nothing, ("texture", "pbr")),
    Case("a camera as the active object", c_non_mesh_active, ("Camera", "mesh")),
    Case("import_model with an empty selection", c_empty_selection, ("select",)),
    Case("import_model of a .glb with a bad header", c_bad_glb_header, ("broken.glb", "export it again")),
    Case("attach a malformed task id", c_attach_bad_id, ("task id",)),
    Case("no API key", c_no_key, ("key",)),
    Case("malformed key (sk-...)", c_malformed_key, ("tsk_",)),
    Case("client id instead of a key (tcli_...)", c_tcli_key, ("tsk_", "tcli_")),
    Case("http:// base URL that is not loopback", c_http_base_url, ("http", "https")),
    Case("base URL that is not a URL", c_garbage_base_url, ("URL",)),
    Case("CA bundle file that does not exist", c_missing_ca_bundle, ("CA bundle", "does not exist")),
    Case("wrong key (unknown to Tripo)", c_wrong_key, ("key", "tsk_")),
    Case("no credits", c_no_credits, ("credits", "top up"), posts=1, setup=s_no_credits),
    Case("unwritable download folder", c_unwritable_folder, ("download folder",)),
    Case("full disk (16 KB tmpfs)", c_full_disk, ("disk space", "download folder")),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, ext, connected):
    ctx = connected
    ctx.ext = ext
    if case.setup:
        case.setup(ctx)
    before = settled_balance(ctx.emulator, ctx.api_key)
    message = case.run(ctx)
    print(f"\n[{case.id}] {message}")
    clear_message(message, *case.words)
    assert connected.api_key not in message
    assert task_posts(ctx.emulator, ctx.api_key) == case.posts
    after = settled_balance(ctx.emulator, ctx.api_key)
    assert after["balance"] == before["balance"], (before, after)


def test_disk_fills_while_the_task_runs_then_retry_without_paying_again(ext, connected, fault):
    """The folder had room when the task was sent, but the disk fills up before the result arrives: a clear error
    on the row; once space is freed, retrying the job downloads the paid result without a second POST /task."""
    import threading

    from rel_helpers import wait_until

    folder = connected.tmp / "filling"
    folder.mkdir()
    if not _mount(folder, "size=80m"):
        pytest.skip("needs root and mount to make a small tmpfs")
    filler = folder / "someone-elses-video.bin"
    try:
        connected.prefs.download_dir = str(folder)
        fault("download", "delay", seconds=3)

        def fill_when_downloading():
            wait_until(lambda: any(r["route"] == "download" and r["fault"] == "delay"
                                   for r in connected.emulator.requests()), what="download request")
            with open(filler, "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * (1 << 20))
                except OSError:
                    pass

        t = threading.Thread(target=fill_when_downloading, daemon=True)
        t.start()
        with pytest.raises(RuntimeError) as info:
            bpy.ops.tripo.text_to_model(prompt="a chair for a full disk", wait=True)
        t.join(30)
        clear_message(str(info.value), "disk space", "download folder")
        paid = settled_balance(connected.emulator, connected.api_key)["balance"]
        filler.unlink()  # the user frees some space
        eng = ext.runtime.engine()
        job_id = eng.jobs()[-1]["id"]
        ext.runtime.retry(job_id)
        snap = eng.wait(job_id, WAIT)
        assert snap["state"] == "succeeded", snap.get("error")
        assert task_posts(connected.emulator, connected.api_key) == 1
        assert settled_balance(connected.emulator, connected.api_key)["balance"] == paid
    finally:
        _umount(folder)
