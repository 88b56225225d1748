"""Task state machine, signed URL expiry/refresh/Range, S3 over TLS + import round trip, the CLI script, and
start/stop hygiene."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from .helpers import auth, create_id, download, get, glb_vertex_count, run, run_many, wait

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------------- state machine
def test_queued_task_reports_position_and_time_left(slow_emulator, slow_key):
    a = create_id(slow_emulator, slow_key, {"type": "text_to_model", "prompt": "a lamp"})
    b = create_id(slow_emulator, slow_key, {"type": "text_to_model", "prompt": "a lamp"})
    da, db = get(slow_emulator, slow_key, a), get(slow_emulator, slow_key, b)
    assert da["status"] == db["status"] == "queued"
    assert da["progress"] == 0 and da["output"] == {} and da["consumed_credit"] == 0
    assert da["queuing_num"] == 0 and db["queuing_num"] == 1
    assert 30 <= da["running_left_time"] <= 44
    assert abs(da["create_time"] - time.time()) < 30
    assert da["input"] == {"prompt": "a lamp", "model_version": "v2.5-20250123", "texture": True, "pbr": True}


def test_running_progress_rises_and_time_counts_down(tmp_path):
    from tripo_emulator import Emulator

    with Emulator(port=0, time_scale=0.05, data_dir=tmp_path, s3=False) as emu:
        tid = create_id(emu, "tsk_sm", {"type": "text_to_model", "prompt": "a lamp"})
        seen = []
        while True:
            d = get(emu, "tsk_sm", tid)
            seen.append(d)
            if d["status"] == "success":
                break
            assert d["status"] in ("queued", "running")
            time.sleep(0.05)
        statuses = [d["status"] for d in seen]
        assert statuses == sorted(statuses, key=["queued", "running", "success"].index)
        progress = [d["progress"] for d in seen]
        assert progress == sorted(progress) and progress[-1] == 100
        running = [d for d in seen if d["status"] == "running"]
        assert running, "never seen running"
        assert all(d["queuing_num"] == -1 and 0 <= d["running_left_time"] <= 3 for d in running)
        assert seen[-1]["running_left_time"] == -1


def test_unknown_status_only_by_fault(emulator, api_key):
    tid = create_id(emulator, api_key, {"type": "text_to_image", "prompt": "x"})
    emulator.inject(route="poll", kind="unknown_status", count=2, match={"task_id": tid})
    assert [get(emulator, api_key, tid)["status"] for _ in range(2)] == ["unknown", "unknown"]
    assert wait(emulator, api_key, tid)["status"] == "success"


def test_fail_task_matches_on_type(emulator, api_key):
    emulator.inject(route="create", kind="fail_task", match={"key": api_key, "type": "text_to_model"})
    img = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_image", "prompt": "x"}))
    mdl = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_model", "prompt": "x"}))
    assert img["status"] == "success" and mdl["status"] == "failed" and mdl["error_code"] == 1001
    assert mdl["error_msg"] and mdl["progress"] == 100 and mdl["prompt"] == "x"


# ---------------------------------------------------------------------------------------------------- URLs
def test_urls_are_fresh_on_every_poll_and_expire(tmp_path):
    from tripo_emulator import Emulator

    with Emulator(port=0, time_scale=0.01, data_dir=tmp_path, url_ttl=2.0, s3=False) as emu:
        d = run(emu, "tsk_url", {"type": "text_to_image", "prompt": "x"})
        url = d["output"]["generated_image"]
        assert requests.get(url).status_code == 200      # valid for at least url_ttl
        fresh = get(emu, "tsk_url", d["task_id"])["output"]["generated_image"]
        assert fresh != url
        time.sleep(3.1)                                  # at most url_ttl + 1 s
        r = requests.get(url)
        assert r.status_code == 403 and b"AccessDenied" in r.content
        again = get(emu, "tsk_url", d["task_id"])["output"]["generated_image"]
        assert requests.get(again).status_code == 200


def test_bad_signature_and_unknown_files(emulator, api_key, image_task):
    url = image_task["output"]["generated_image"]
    assert requests.get(url.replace("sig=", "sig=0")).status_code == 403
    assert requests.get(url.split("?")[0]).status_code == 403
    base, query = url.split("?")
    assert requests.get(base.rsplit("/", 1)[0] + "/other.png?" + query).status_code == 403


def test_expire_urls_fault(emulator, api_key, image_task, mkey):
    emulator.inject(route="poll", kind="expire_urls", match={"task_id": image_task["task_id"]})
    d = get(emulator, mkey, image_task["task_id"])
    assert requests.get(d["output"]["generated_image"]).status_code == 403
    d = get(emulator, mkey, image_task["task_id"])
    assert requests.get(d["output"]["generated_image"]).status_code == 200


def test_range_and_head(emulator, mkey, model_task):
    url = get(emulator, mkey, model_task["task_id"])["output"]["pbr_model"]
    full = download(url)
    r = requests.get(url, headers={"Range": "bytes=4-11"})
    assert r.status_code == 206 and r.content == full[4:12]
    assert r.headers["Content-Range"] == f"bytes 4-11/{len(full)}"
    r = requests.get(url, headers={"Range": "bytes=-4"})
    assert r.content == full[-4:]
    r = requests.head(url)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(full)
    assert requests.get(url, headers={"Range": f"bytes={len(full) + 5}-"}).status_code == 416


def test_keep_alive_session(emulator, api_key):
    with requests.Session() as s:
        s.headers.update(auth(api_key))
        for _ in range(5):
            assert s.get(emulator.base_url + "/user/balance").status_code == 200
        tid = s.post(emulator.base_url + "/task", json={"type": "text_to_image", "prompt": "x"}).json()["data"]
        assert tid["task_id"]


# ---------------------------------------------------------------------------------------------------- S3 + import
def sts(emu, key, fmt):
    r = requests.post(emu.base_url + "/upload/sts/token", json={"format": fmt}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def s3_client(emu, tok):
    import boto3

    return boto3.client("s3", endpoint_url="https://" + tok["s3_host"], region_name="us-west-2",
                        aws_access_key_id=tok["sts_ak"], aws_secret_access_key=tok["sts_sk"],
                        aws_session_token=tok["session_token"], verify=emu.s3_ca_file)


def test_sts_token_shape_and_boto3_put_over_tls(emulator, api_key):
    import re

    tok = sts(emulator, api_key, "glb")
    assert set(tok) == {"s3_host", "resource_bucket", "resource_uri", "session_token", "sts_ak", "sts_sk"}
    assert tok["s3_host"] == emulator.s3_endpoint.removeprefix("https://") and tok["resource_bucket"] == "tripo-data"
    assert re.fullmatch(r"tcli_[0-9a-f]{32}/\d{8}/[0-9a-f-]{36}/input\.glb", tok["resource_uri"])
    s3_client(emulator, tok).put_object(Bucket=tok["resource_bucket"], Key=tok["resource_uri"], Body=b"glTF1234")
    assert emulator.s3_get("tripo-data", tok["resource_uri"]) == b"glTF1234"
    import boto3
    from botocore.exceptions import SSLError

    with pytest.raises(SSLError):  # the certificate is not trusted without the emulator's CA
        boto3.client("s3", endpoint_url=emulator.s3_endpoint, region_name="us-west-2", aws_access_key_id="a",
                     aws_secret_access_key="b").list_objects_v2(Bucket="tripo-data")


def upload_mesh(emu, key, data: bytes, fmt: str) -> dict:
    tok = sts(emu, key, fmt)
    s3_client(emu, tok).put_object(Bucket=tok["resource_bucket"], Key=tok["resource_uri"], Body=data)
    return {"type": fmt, "object": {"bucket": tok["resource_bucket"], "key": tok["resource_uri"]}}


def test_import_model_round_trip_keeps_the_users_mesh(emulator, api_key, mkey, model_task):
    user_glb = download(get(emulator, mkey, model_task["task_id"])["output"]["pbr_model"])
    n = glb_vertex_count(user_glb)
    imp = run(emulator, api_key, {"type": "import_model", "file": upload_mesh(emulator, api_key, user_glb, "glb")})
    assert imp["consumed_credit"] == 0 and set(imp["output"]) == {"model"}
    assert download(imp["output"]["model"]) == user_glb
    tex, seg, rig = run_many(emulator, api_key, [
        {"type": t, "original_model_task_id": imp["task_id"]}
        for t in ("texture_model", "mesh_segmentation", "animate_rig")])
    assert glb_vertex_count(download(tex["output"]["pbr_model"])) == n
    assert glb_vertex_count(download(seg["output"]["model"])) >= n
    assert glb_vertex_count(download(rig["output"]["model"])) == n


def test_import_obj_and_stl(emulator, api_key):
    from tripo_emulator.assets import formats, shapes

    mesh = shapes.generate("crate", 1)
    obj_zip = formats.write_obj_zip([mesh], None, "crate")
    import io
    import zipfile

    obj = zipfile.ZipFile(io.BytesIO(obj_zip)).read("crate.obj")
    for data, fmt in ((obj, "obj"), (formats.write_stl([mesh]), "stl")):
        d = run(emulator, api_key, {"type": "import_model", "file": upload_mesh(emulator, api_key, data, fmt)})
        assert glb_vertex_count(download(d["output"]["model"])) >= mesh.vertex_count
    # STL has no UVs: texturing makes some and keeps the vertices
    tex = run(emulator, api_key, {"type": "texture_model", "original_model_task_id": d["task_id"]})
    assert glb_vertex_count(download(tex["output"]["pbr_model"])) == glb_vertex_count(download(d["output"]["model"]))


def test_import_declared_format_must_match(emulator, api_key):
    from tripo_emulator.assets import formats, shapes

    stl = formats.write_stl([shapes.generate("crate", 1)])
    r = requests.post(emulator.base_url + "/task", headers=auth(api_key),
                      json={"type": "import_model", "file": upload_mesh(emulator, api_key, stl, "glb")})
    assert r.status_code == 400 and r.json()["code"] == 2004


@pytest.mark.blender
def test_import_fbx_through_blender(emulator, api_key, mkey, model_task):
    conv = run(emulator, mkey, {"type": "convert_model", "original_model_task_id": model_task["task_id"],
                                "format": "FBX"}, timeout=240)
    fbx = download(conv["output"]["model"])
    d = run(emulator, api_key, {"type": "import_model", "file": upload_mesh(emulator, api_key, fbx, "fbx")},
            timeout=240)
    assert glb_vertex_count(download(d["output"]["model"])) > 100


def test_image_by_url_from_this_emulator(emulator, mkey, image_task):
    url = get(emulator, mkey, image_task["task_id"])["output"]["generated_image"]
    d = run(emulator, mkey, {"type": "image_to_model", "file": {"type": "png", "url": url}, "texture": False})
    assert d["output"]["base_model"]


# ---------------------------------------------------------------------------------------------------- process
def test_cli_script_serves_until_killed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "tripo_emulator.py"), "--port", "0",
                             "--time-scale", "0.01", "--data-dir", str(tmp_path), "--key", "tsk_cli",
                             "--balance", "77", "--no-s3", "--api", "v2"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Tripo emulator: http://127.0.0.1:") and line.rstrip().endswith("/v2/openapi")
        base = line.split()[-1]
        assert proc.stdout.readline().startswith("v3 base URL:")
        assert proc.stdout.readline().split()[-1] == base
        assert proc.stdout.readline().startswith("S3 endpoint:")
        r = requests.get(base + "/user/balance", headers=auth("tsk_cli"), timeout=10)
        assert r.json()["data"] == {"balance": 77, "frozen": 0}
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_stop_is_quick_and_releases_the_port(tmp_path):
    from tripo_emulator import Emulator

    emu = Emulator(port=0, data_dir=tmp_path, s3=False).start()
    port = emu.port
    s = requests.Session()
    assert s.get(emu.base_url + "/user/balance", headers=auth("tsk_x")).status_code == 200  # keep-alive open
    t0 = time.monotonic()
    emu.stop()
    assert time.monotonic() - t0 < 3
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    s.close()


def test_control_routes_over_http(emulator):
    root = emulator.root_url
    key = "tsk_ctl_" + uuid.uuid4().hex
    r = requests.post(root + "/_emulator/accounts", json={"key": key, "balance": 123})
    assert r.json()["data"] == {"key": key, "balance": 123, "frozen": 0}
    assert requests.get(f"{root}/_emulator/accounts/{key}").json()["data"]["balance"] == 123
    rule = {"route": "balance", "kind": "status", "status": 503, "count": 1, "match": {"key": key}}
    r = requests.post(root + "/_emulator/faults", json=rule)
    assert r.status_code == 200 and r.json()["data"]["rules"][0]["kind"] == "status"
    assert any(x["match"] == {"key": key} for x in requests.get(root + "/_emulator/faults").json()["data"]["rules"])
    assert requests.get(emulator.base_url + "/user/balance", headers=auth(key)).status_code == 503
    assert requests.get(emulator.base_url + "/user/balance", headers=auth(key)).status_code == 200
    requests.post(root + "/_emulator/faults", json={"rules": [rule, rule]})
    assert requests.delete(root + "/_emulator/faults").json()["data"]["rules"] == []
    assert requests.get(emulator.base_url + "/user/balance", headers=auth(key)).status_code == 200
    log = requests.get(root + "/_emulator/requests", params={"key": key}).json()["data"]["requests"]
    assert [x["status"] for x in log][-3:] == [503, 200, 200] and log[-3]["fault"] == "status"
    assert all(x["key"] == key and x["route"] == "balance" for x in log)
    bad = requests.post(root + "/_emulator/faults", json={"kind": "explode"})
    assert bad.status_code == 400
    assert requests.get(root + "/_emulator/health").json()["data"]["base_url"] == emulator.base_url
    r = requests.post(root + "/_emulator/config", json={"url_ttl": 300})
    assert r.json()["data"]["url_ttl"] == 300


def test_missing_bpy_fails_blender_tasks_with_1001(emulator, api_key, monkeypatch, tmp_path):
    from tripo_emulator import blender

    fake = tmp_path / "python-without-bpy"
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -I -S \"$@\"\n")  # -S: no site-packages, so no bpy
    fake.chmod(0o755)
    monkeypatch.setattr(blender, "PYTHON", str(fake))
    src = run(emulator, api_key, {"type": "text_to_model", "prompt": "a unique teapot " + uuid.uuid4().hex})
    d = wait(emulator, api_key, create_id(emulator, api_key, {"type": "convert_model", "format": "USDZ",
                                                              "original_model_task_id": src["task_id"]}))
    assert d["status"] == "failed" and d["error_code"] == 1001
    assert "bpy" in d["error_msg"] and d["consumed_credit"] == 0


def test_smart_low_poly_of_a_too_complex_prompt_fails_2018(emulator, api_key):
    d = wait(emulator, api_key, create_id(emulator, api_key, {"type": "text_to_model", "smart_low_poly": True,
                                                              "prompt": "a too complex machine"}))
    assert d["status"] == "failed" and d["error_code"] == 2018


def test_chunked_upload_and_parallelism_header(emulator, api_key):
    from .helpers import png_bytes

    boundary = "xYzZy"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + png_bytes() + f"\r\n--{boundary}--\r\n".encode()
    r = requests.post(emulator.base_url + "/upload", data=iter([body[:100], body[100:]]),
                      headers={**auth(api_key), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 200, r.text
    r = requests.post(emulator.base_url + "/task", json={"type": "text_to_image", "prompt": "x"},
                      headers=auth(api_key))
    assert r.headers["X-ParallelismLimit-Remain"] == "9"


def test_download_faults_match_the_owner(emulator, mkey, image_task):
    emulator.inject(route="download", kind="status", status=500, match={"owner": mkey})
    url = get(emulator, mkey, image_task["task_id"])["output"]["generated_image"]
    assert requests.get(url).status_code == 500
    assert requests.get(url).status_code == 200


def test_cli_script_speaks_v3_by_default_and_injects_faults(tmp_path):
    script = ROOT / "scripts" / "tripo_emulator.py"
    assert os.access(script, os.X_OK) and script.read_text().startswith("#!/usr/bin/env python3\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    helptext = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, env=env,
                              timeout=60).stdout
    for option in ("--port", "--api {v3,v2}", "--time-scale", "--fault ROUTE:KIND", "--key", "--balance",
                   "--strict-keys", "--rate-limit", "--no-s3", "--url-ttl", "--banned-word", "--data-dir",
                   "/_emulator/faults", "default v3"):
        assert option in helptext, option
    proc = subprocess.Popen([sys.executable, str(script), "--port", "0", "--time-scale", "0.01", "--data-dir",
                             str(tmp_path), "--no-s3", "--fault", "balance:status:503@2"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("Tripo emulator: http://127.0.0.1:")
        root = lines[0].split()[-1]
        assert lines[1].split()[3] == root and lines[2].split()[-1] == root + "/v2/openapi"
        assert "'route': 'balance'" in lines[3]
        url = root + "/v3/account/balance"
        assert [requests.get(url, headers=auth("tsk_cli"), timeout=10).status_code for _ in range(3)] == [503, 503,
                                                                                                          200]
        assert requests.get(url, headers=auth("tsk_cli"), timeout=10).json()["status"] == "success"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
