#!/usr/bin/env python3
"""Benchmark for issue 5, "Never a frozen frame": the add-on against a naive baseline, in one run.

    .venv/bin/python scripts/bench.py            # full run (about 5 minutes on 2 cores)
    .venv/bin/python scripts/bench.py --quick    # shorter run, smaller numbers (about 2 minutes)
    .venv/bin/python scripts/bench.py --only latency,ticks   # some scenarios only (development)

The emulator runs in a child process (bench/emu_proc.py: scripts/tripo_emulator.py's server plus bench hooks), so
its CPU, threads and sockets are not counted here. This process is Blender (the bpy module) with the extension
staged and enabled as ``bl_ext.bench.tripo_addon``; the bench calls the poller's ``modal()`` every ``TICK`` seconds,
as Blender's modal timer would (timers never fire in the bpy module), and times each call.

Scenarios (each one for the add-on, then the same for the naive baseline, bench/naive.py):
- ticks:   50 jobs really in flight (an enterprise-sized concurrency) while a 50 MB result downloads; main-thread
           time per tick with the imports taken out (and reported on their own).
- latency: text->model tasks end to end: server finish -> noticed (worker and main thread), polls per task and
           intervals against the official client's rule max(2 s, running_left_time/2), success -> objects in the
           scene minus download and import, HTTP requests and TCP connections per task.
- cpu:     10 jobs polling, process CPU over a window (the emulator is another process).
- scale:   200 jobs submitted at once: 429 answers, peak tasks on the server, time to work them off.
- retention: a job history of 10,000 finished jobs (issue 10 item 15): engine start (journal load), an important
           journal save and the task list rebuild at file load (mirror_all), with retention (the newest 200 finished
           jobs stay, the rest is archived at the first start) against the old behaviour (all 10,000 stay live).
           Runs alone: --only retention (no network).
Every scenario also counts the socket calls made on the main thread (bench/sockets.py).

Results: a table on stdout, raw figures in out/bench.json.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# scripts/ (this file's folder, first on sys.path) would shadow the bench/ helper package with this very script.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "scripts"]
sys.path.insert(0, str(ROOT))

from bench import sockets  # noqa: E402

sockets.install()  # before anything opens a socket

REPO = "bench"
MODULE = f"bl_ext.{REPO}.tripo_addon"
OUT = ROOT / "out"
SDK_FLOOR = 2.0  # the official v2 client (tripo3d 0.x) and the official add-on: max(2, running_left_time * 0.5)


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ============================================================================================ statistics
def pct(values: list[float], q: float) -> float | None:
    """Percentile with linear interpolation (q in 0..100); None for no data."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    vals = [v for v in values if v is not None]
    return {"n": len(vals), "median": pct(vals, 50), "p99": pct(vals, 99), "max": max(vals) if vals else None,
            "mean": (sum(vals) / len(vals)) if vals else None}


# ============================================================================================ emulator (child)
class EmulatorProc:
    def __init__(self, data_dir: Path, time_scale: float = 1.0, api: str = "v3") -> None:
        self.data_dir = data_dir
        self.api = api
        cmd = [sys.executable, str(ROOT / "bench" / "emu_proc.py"), "--port", "0", "--time-scale", str(time_scale),
               "--data-dir", str(data_dir), "--enterprise-limit", "60", "--jitter", "0.15", "--api", api]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("emulator did not start: " + self.proc.stderr.read())
        info = json.loads(line)
        self.base_url, self.root_url = info["base_url"], info["root_url"]
        # the emulator speaks both APIs on one port, over the same accounts and tasks
        self.v3_base_url = info.get("v3_base_url", self.root_url)
        self.v2_base_url = info.get("v2_base_url", self.root_url + "/v2/openapi")
        self.pid = info["pid"]

    def ctl(self, method: str, path: str, body: dict | None = None, **params: Any) -> Any:
        """A control request, sent from a helper thread so the main thread's socket count stays the add-on's."""
        box: dict = {}

        def run() -> None:
            import requests

            try:
                r = requests.request(method, self.root_url + path, json=body, params=params or None, timeout=60)
                box["v"] = r.json().get("data")
            except Exception as exc:  # noqa: BLE001
                box["e"] = exc

        t = threading.Thread(target=run, name="bench-control")
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]

    def account(self, key: str, balance: float = 10_000_000) -> str:
        self.ctl("POST", "/_emulator/accounts", {"key": key, "balance": balance})
        return key

    def time_scale(self, scale: float) -> None:
        self.ctl("POST", "/_emulator/config", {"time_scale": scale})

    def slow_download(self, task_id: str, seconds: float) -> None:
        """The next download of this task's files trickles out over ``seconds`` (10 bursts), like a real link."""
        self.ctl("POST", "/_emulator/faults", {"route": "download", "kind": "slow_body", "seconds": seconds,
                                               "match": {"path": task_id}, "count": 1})

    def requests_of(self, key: str) -> list[dict]:
        return self.ctl("GET", "/_emulator/requests", key=key)["requests"]

    def events(self) -> list[dict]:
        path = self.data_dir / "bench_events.jsonl"
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ============================================================================================ Blender side
class Blender:
    """bpy with the extension enabled, plus the timing hooks."""

    def __init__(self, tmp: Path, emu: EmulatorProc, addon_src: Path | None = None) -> None:
        import bpy

        # isort: split
        import addon_utils  # importing bpy puts it on sys.path

        spec = importlib.util.spec_from_file_location("tripo_stage", ROOT / "scripts" / "stage.py")
        stage_mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stage_mod)
        stage = stage_mod.stage

        self.bpy = bpy
        self.tmp = tmp
        self.emu = emu
        repo = tmp / "ext_repo"
        if addon_src is None:
            stage(repo)
        else:  # another checkout (e.g. a git worktree of an older commit), for before/after figures
            shutil.copytree(addon_src / "tripo_addon", repo / "tripo_addon",
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(addon_src / "blender_manifest.toml", repo / "tripo_addon" / "blender_manifest.toml")
        repos = bpy.context.preferences.extensions.repos
        if not any(r.module == REPO for r in repos):
            repos.new(name=REPO, module=REPO, custom_directory=str(repo), source='USER')

        def _raise(exc):
            raise exc

        addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
        import logging

        logging.getLogger("glTFImporter").addFilter(lambda r: r.levelno >= logging.WARNING)  # one line per import
        bpy.context.preferences.system.use_online_access = True
        self.runtime = importlib.import_module(f"{MODULE}.blender.runtime")
        self.poller = importlib.import_module(f"{MODULE}.blender.poller")
        self.client_mod = importlib.import_module(f"{MODULE}.api.client")
        self.prefs = bpy.context.preferences.addons[MODULE].preferences
        self.prefs.api_base_url = emu.base_url
        self.tick = float(getattr(self.poller, "TICK", 0.25))
        # the poller's own pace (it slows down while every worker sleeps), as Blender's timer would deliver it
        self.pace = getattr(self.poller, "current_pace", lambda: self.tick)
        self._install_hooks()

    # -- hooks ---------------------------------------------------------------------------------------------------
    def _install_hooks(self) -> None:
        self.polls: list[dict] = []       # every get_task: task id, start, end, status, eta, thread
        self.downloads: list[dict] = []   # every client.download
        self.imports: dict[str, tuple[float, float]] = {}
        self.import_acc = [0.0]
        self.main_seen: dict[str, float] = {}   # task id -> first main-thread event showing it succeeded
        self.finished_seen: dict[str, float] = {}  # job id -> main thread got its "finished" event
        C = self.client_mod.TripoClient
        orig_get, orig_dl = C.get_task, C.download
        orig_list = getattr(C, "get_tasks", None)

        def eta_of(task):
            return getattr(task, "eta", getattr(task, "running_left_time", None))

        def get_task(client, task_id, *a, **kw):
            t0 = time.monotonic()
            rec = {"task_id": task_id, "start": t0, "thread": threading.current_thread().name}
            try:
                task = orig_get(client, task_id, *a, **kw)
            except Exception as exc:
                rec.update(end=time.monotonic(), status="error:" + type(exc).__name__, eta=None)
                self.polls.append(rec)
                raise
            rec.update(end=time.monotonic(), status=task.status, eta=eta_of(task))
            self.polls.append(rec)
            return task

        def get_tasks(client, task_ids, *a, **kw):  # v3 tasks/list (the engine's poll hub): one record per task
            t0 = time.monotonic()
            found = orig_list(client, task_ids, *a, **kw)
            t1 = time.monotonic()
            thread = threading.current_thread().name
            if client.dialect.batch_limit:  # on v2 get_tasks is get_task per id, recorded there
                for tid in task_ids:
                    task = found.get(tid)
                    if task is not None:
                        self.polls.append({"task_id": tid, "start": t0, "end": t1, "thread": thread,
                                           "status": task.status, "eta": eta_of(task), "batch": len(task_ids)})
            return found

        def download(client, task_id, output_key, dest_dir, *a, **kw):
            t0 = time.monotonic()
            path = orig_dl(client, task_id, output_key, dest_dir, *a, **kw)
            t1 = time.monotonic()
            try:
                size = Path(path).stat().st_size
            except OSError:
                size = None
            self.downloads.append({"task_id": task_id, "key": output_key, "start": t0, "end": t1, "size": size,
                                   "thread": threading.current_thread().name})
            return path

        C.get_task, C.download = get_task, download
        if orig_list is not None:
            C.get_tasks = get_tasks
        J = importlib.import_module(f"{MODULE}.blender.job_import")  # import_job: drain() calls it through J
        D = importlib.import_module(f"{MODULE}.blender.drain")  # _apply_event: drain() calls it by module name
        S = importlib.import_module(f"{MODULE}.blender.scene_io")
        orig_import, orig_apply, orig_files = J.import_job, D._apply_event, S.import_files
        current = [None]

        def import_job(job_id, *a, **kw):
            current[0] = job_id
            try:
                return orig_import(job_id, *a, **kw)
            finally:
                current[0] = None
                self.imports.setdefault(job_id, (time.monotonic(), time.monotonic()))  # nothing to import

        def import_files(*a, **kw):
            # the importer proper (glTF/FBX/... operators + placing): what the targets leave out of the tick
            t0 = time.monotonic()
            try:
                return orig_files(*a, **kw)
            finally:
                t1 = time.monotonic()
                if current[0] is not None:
                    self.imports[current[0]] = (t0, t1)
                self.import_acc[0] += t1 - t0

        S.import_files = import_files

        def apply_event(event, *a, **kw):
            snap = event.snapshot or {}
            now = time.monotonic()
            for step in snap.get("steps") or ():
                tid = step.get("task_id")
                if tid and step.get("status") == "success" and tid not in self.main_seen:
                    self.main_seen[tid] = now
            if event.kind == "finished" and event.job_id not in self.finished_seen:
                self.finished_seen[event.job_id] = now
            return orig_apply(event, *a, **kw)

        J.import_job, D._apply_event = import_job, apply_event

        # journal saves (the fsyncs on the way from success to the scene), per thread
        self.saves: list[dict] = []
        J = importlib.import_module(f"{MODULE}.jobs.journal").Journal
        orig_save = J.save

        def save(journal, *a, **kw):
            t0 = time.monotonic()
            try:
                return orig_save(journal, *a, **kw)
            finally:
                self.saves.append({"start": t0, "end": time.monotonic(), "thread": threading.current_thread().name})

        J.save = save

    # -- per scenario --------------------------------------------------------------------------------------------
    def fresh(self, key: str, *, auto_import: bool = True, base_url: str | None = None) -> None:
        """A new engine with an empty journal, an empty scene, this account (and API: the emulator's v3 unless
        ``base_url`` says otherwise)."""
        bpy = self.bpy
        self.prefs.api_base_url = base_url or self.emu.base_url
        self.runtime.shutdown()
        shutil.rmtree(self.runtime.state_dir(), ignore_errors=True)
        bpy.ops.wm.read_homefile(use_empty=True)
        self.runtime.engine_options.clear()
        self.prefs.api_key = key
        self.prefs.auto_import = auto_import
        dl = self.tmp / "downloads" / key
        dl.mkdir(parents=True, exist_ok=True)
        self.prefs.download_dir = str(dl)
        self.runtime.refresh_config()

    def engine(self):
        return self.runtime.engine()

    def enterprise(self, limit: int = 60) -> None:
        """Raise the engine's pools for text_to_model to an enterprise account's ``limit`` (as the emulator does for
        tsk_ent_ keys), so that many tasks are really in flight at once."""
        eng = self.engine()
        eng.set_max_parallel(max(eng.max_parallel, limit))
        try:
            dialect = importlib.import_module(f"{MODULE}.api.dialects")
            sched = importlib.import_module(f"{MODULE}.jobs.schedule")
            api = getattr(eng, "api", None)
            api = api if isinstance(api, str) else dialect.api_of(self.prefs.api_base_url)
            for pool in dialect.by_name(api).pools("text_to_model", {}):
                s = eng.slots.get(pool.name)
                if s is None:
                    s = eng.slots[pool.name] = sched.Slots(pool.name, limit)
                s.limit = s.pool_limit = limit
        except (ImportError, AttributeError):  # an older add-on (--addon-src): groups made at start
            for s in eng.slots.values():
                s.limit = limit

    def submit_text(self, prompt: str) -> tuple[str, float]:
        """Press "Generate" (the text_to_model operator, wait=False). Returns (job id, seconds on the main thread)."""
        self.engine()
        t0 = time.perf_counter()
        res = self.bpy.ops.tripo.text_to_model(prompt=prompt, wait=False)
        dt = time.perf_counter() - t0
        if res != {'FINISHED'}:
            raise RuntimeError(f"text_to_model returned {res}")
        tasks = self.bpy.context.window_manager.tripo.tasks  # the operator adds the job's row last
        return tasks[len(tasks) - 1].job_id, dt

    def modal_tick(self) -> dict:
        """One TIMER event for the poller, as Blender sends it; timed, imports taken out."""
        imp0 = self.import_acc[0]
        c0 = time.thread_time()
        t0 = time.perf_counter()
        self.poller.TRIPO_OT_poller.modal(SimpleNamespace(_timer=None), self.bpy.context,
                                          SimpleNamespace(type='TIMER'))
        t1 = time.perf_counter()
        c1 = time.thread_time()
        imp = self.import_acc[0] - imp0
        return {"start": time.monotonic() - (t1 - t0), "at": time.monotonic(), "wall": t1 - t0, "cpu": c1 - c0,
                "import": imp, "work": max(0.0, (t1 - t0) - imp), "work_cpu": max(0.0, (c1 - c0) - imp)}

    def import_glb(self, path: str) -> None:
        """The naive baseline's import (the importer every competitor calls)."""
        self.bpy.ops.import_scene.gltf(filepath=path)


def pump(tick_fn, until, tick, max_s: float, ticks: list | None = None, every=None) -> bool:
    """Call ``tick_fn`` every ``tick`` seconds (fixed cadence; a callable gives the interval after each call, as the
    add-on's poller chooses its timer) until ``until()`` or ``max_s``. True when done."""
    deadline = time.monotonic() + max_s
    next_t = time.monotonic()
    while True:
        rec = tick_fn()
        if ticks is not None and rec is not None:
            ticks.append(rec)
        if every is not None:
            every()
        if until():
            return True
        if time.monotonic() > deadline:
            return False
        next_t += tick() if callable(tick) else tick
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_t = time.monotonic()


def naive_tick(naive):
    def fn() -> dict:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        imp = naive.tick()
        t1 = time.perf_counter()
        c1 = time.thread_time()
        return {"start": time.monotonic() - (t1 - t0), "at": time.monotonic(), "wall": t1 - t0, "cpu": c1 - c0,
                "import": imp, "work": max(0.0, (t1 - t0) - imp), "work_cpu": max(0.0, (c1 - c0) - imp)}

    return fn


def overlapping(ticks: list[dict], window: tuple[float, float] | None) -> list[dict]:
    """Ticks that ran while [start, end] was going on."""
    if not window:
        return []
    return [t for t in ticks if t["start"] <= window[1] and t["at"] >= window[0]]


def tick_stats(ticks: list[dict], field: str = "work") -> dict:
    return summary([t[field] * 1000.0 for t in ticks])


def main_socket_calls(before: dict) -> dict:
    d = sockets.diff(sockets.snapshot(), before)
    n, s = sockets.blocking_calls(d, sockets.MAIN)
    return {"calls": n, "seconds": s, "by_op": d.get(sockets.MAIN, {})}


def rusage_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def polls_in_log(log: list[dict], task_id: str) -> int:
    """Requests in the emulator's log that asked about ``task_id``: v2 ``GET /task/<id>``, v3 ``GET /v3/tasks/<id>``
    and every v3 ``POST /v3/tasks/list`` whose ``task_ids`` hold it."""
    n = 0
    for r in log:
        if r["method"] == "GET" and r["path"].rstrip("/").endswith(("/task/" + task_id, "/tasks/" + task_id)):
            n += 1
        elif r["method"] == "POST" and r["path"].rstrip("/").endswith("/tasks/list"):
            ids = (r.get("body") or {}).get("task_ids") if isinstance(r.get("body"), dict) else None
            n += bool(ids and task_id in ids)
    return n


def job_of_thread(name: str) -> str | None:
    for prefix in ("tripo-job-", "tripo-preview-"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return None


# ============================================================================================ scenarios
def scenario_ticks(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    """50 jobs in flight + one 50 MB result downloading: main-thread work per tick."""
    n, scale, big_scale, big_mb = cfg["load_jobs"], cfg["load_scale"], cfg["big_scale"], cfg["big_mb"]
    res: dict = {"jobs": n, "big_mb": big_mb}

    # ---- the add-on
    key = emu.account("tsk_ent_ticks_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    eng = bl.engine()
    bl.enterprise(60)  # the account's concurrency (enterprise): 60 per pool, as the emulator's
    emu.time_scale(scale)
    sock0 = sockets.snapshot()
    ticks: list[dict] = []
    submit_s = []
    ids = []
    for i in range(n):
        jid, dt = bl.submit_text(f"a wooden chair number {i}")
        ids.append(jid)
        submit_s.append(dt)
    pump(bl.modal_tick, lambda: False, bl.pace, 3.0, ticks)  # all polling
    emu.time_scale(big_scale)
    big_id, dt = bl.submit_text(f"a detailed statue BIGFILE{big_mb}MB")
    submit_s.append(dt)
    emu.time_scale(scale)
    all_ids = ids + [big_id]

    def big_task_id() -> str | None:
        return eng.get(big_id)["steps"][0].get("task_id")

    pump(bl.modal_tick, big_task_id, bl.pace, 30.0, ticks)
    emu.slow_download(big_task_id(), cfg["big_seconds"])

    def done() -> bool:
        return all(j in bl.imports for j in all_ids)

    ok = pump(bl.modal_tick, done, bl.pace, cfg["max_s"], ticks)
    big_task = eng.get(big_id)["steps"][0]["task_id"]
    dl = [d for d in bl.downloads if d["task_id"] == big_task and d["key"] not in ("rendered_image", "preview")]
    window = (dl[0]["start"], dl[0]["end"]) if dl else None
    during = overlapping(ticks, window)
    in_flight = [t for t in ticks if window and t["at"] <= window[1] + bl.tick]
    big_import = bl.imports.get(big_id)
    res["ours"] = {
        "completed": ok, "ticks": len(ticks), "tick_ms": tick_stats(ticks),
        "tick_cpu_ms": tick_stats(ticks, "work_cpu"),
        "tick_ms_during_download": tick_stats(during), "tick_ms_until_download_done": tick_stats(in_flight),
        "raw_during_download_ms": [(round(t["work"] * 1000, 3), round(t["work_cpu"] * 1000, 3)) for t in during],
        "submit_ms": summary([s * 1000 for s in submit_s]),
        "download_s": (window[1] - window[0]) if window else None, "download_bytes": dl[0]["size"] if dl else None,
        "big_import_s": (big_import[1] - big_import[0]) if big_import else None,
        "imports_s": summary([b - a for a, b in (bl.imports[j] for j in ids if j in bl.imports)]),
        "main_thread_sockets": main_socket_calls(sock0),
        "raw_ticks_ms": [(round(t["work"] * 1000, 3), round(t["work_cpu"] * 1000, 3)) for t in ticks],
    }
    say(f"ticks/ours: {len(ticks)} ticks, median {res['ours']['tick_ms']['median']:.3f} ms, "
        f"p99 {res['ours']['tick_ms']['p99']:.3f} ms, download {res['ours']['download_s']}")

    # ---- the naive baseline
    from bench.naive import NaiveAddon

    key = emu.account("tsk_ent_ticksnaive_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    emu.time_scale(scale)
    naive = NaiveAddon(emu.base_url, key, bl.tmp / "naive" / key, importer=bl.import_glb, api=emu.api)
    sock0 = sockets.snapshot()
    nticks: list[dict] = []
    t0 = time.perf_counter()
    for i in range(n):
        naive.submit({"type": "text_to_model", "prompt": f"a wooden chair number {i}"})
    submit_total = time.perf_counter() - t0
    pump(naive_tick(naive), lambda: False, bl.tick, 3.0, nticks)
    emu.time_scale(big_scale)
    big = naive.submit({"type": "text_to_model", "prompt": f"a detailed statue BIGFILE{big_mb}MB"})
    emu.time_scale(scale)
    emu.slow_download(big.task_id, cfg["big_seconds"])
    ok = pump(naive_tick(naive), naive.done, bl.tick, cfg["max_s"], nticks)
    window = big.download[:2] if big.download else None
    during = overlapping(nticks, window)
    res["naive"] = {
        "completed": ok, "ticks": len(nticks), "tick_ms": tick_stats(nticks),
        "tick_cpu_ms": tick_stats(nticks, "work_cpu"),
        "tick_ms_during_download": tick_stats(during),
        "submit_ms": {"median": submit_total * 1000 / n, "p99": None},
        "download_s": (window[1] - window[0]) if window else None,
        "big_import_s": (big.imported[1] - big.imported[0]) if big.imported else None,
        "main_thread_sockets": main_socket_calls(sock0),
        "raw_ticks_ms": [round(t["work"] * 1000, 3) for t in nticks],
    }
    say(f"ticks/naive: median {res['naive']['tick_ms']['median']:.1f} ms, p99 {res['naive']['tick_ms']['p99']:.1f} ms")
    bl.runtime.shutdown()
    return res


def _guidance_check(polls: list[dict]) -> tuple[int, int, float | None]:
    """(intervals checked, intervals shorter than max(2, eta/2), smallest interval/guidance ratio)."""
    checked = fast = 0
    worst = None
    polls = sorted(polls, key=lambda p: p["start"])
    for a, b in zip(polls, polls[1:], strict=False):
        if a["status"] not in ("queued", "running", "unknown"):
            break
        eta = a.get("eta")
        guide = max(SDK_FLOOR, 0.5 * eta) if isinstance(eta, int | float) and eta > 0 else SDK_FLOOR
        gap = b["start"] - a["end"]
        checked += 1
        ratio = gap / guide
        worst = ratio if worst is None else min(worst, ratio)
        if gap < guide - 0.05:
            fast += 1
    return checked, fast, worst


def _sdk_polls(created: float, final: float, first_eta: float | None) -> int:
    """Polls the official v2 client would make for a task created at ``created`` that ends at ``final``
    (poll at once, then max(2, running_left_time/2) with running_left_time = ceil(time left), at least 1)."""
    t, n = created, 0
    while True:
        n += 1
        if t >= final:
            return n
        eta = max(1, math.ceil(final - t))
        t += max(SDK_FLOOR, 0.5 * eta)


def scenario_latency(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    n, scale, gap = cfg["lat_jobs"], cfg["lat_scale"], cfg["lat_gap"]
    res: dict = {"jobs": n, "time_scale": scale}

    # ---- the add-on
    key = emu.account("tsk_lat_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    emu.time_scale(scale)
    sock0 = sockets.snapshot()
    ticks: list[dict] = []
    ids = []
    for i in range(n):
        jid, _dt = bl.submit_text(f"a small cat figurine {i}")
        ids.append(jid)
        pump(bl.modal_tick, lambda: False, bl.pace, gap, ticks)
    ok = pump(bl.modal_tick, lambda: all(j in bl.imports for j in ids), bl.pace, cfg["max_s"], ticks)
    pump(bl.modal_tick, lambda: not bl.runtime.background.active(), bl.pace, 10.0, ticks)  # previews
    sockd = sockets.diff(sockets.snapshot(), sock0)
    eng = bl.engine()
    events = emu.events()
    finals = {e["id"]: e for e in events if e["ev"] == "final"}
    created = {e["id"]: e for e in events if e["ev"] == "created"}
    log = emu.requests_of(key)
    # Calls made for all jobs together (preview images on the shared background threads, v3 polls on the poll hub's
    # thread: one tasks/list for every task waiting): an equal share per task.
    shared = {t: ops for t, ops in sockd.items() if t.startswith(("tripo-background", "tripo-poll"))}
    shared_req = sum(int(ops.get("http_request", [0])[0]) for ops in shared.values()) / max(1, n)
    shared_conn = sum(int(ops.get("connect", [0])[0]) for ops in shared.values()) / max(1, n)
    per = []
    for jid in ids:
        snap = eng.get(jid)
        tid = snap["steps"][0]["task_id"]
        fin = finals.get(tid, {}).get("t")
        mine = [p for p in bl.polls if p["task_id"] == tid and (p["thread"] == f"tripo-job-{jid}"
                                                                  or p["thread"].startswith("tripo-poll"))]
        first_ok = min((p["end"] for p in mine if p["status"] == "success"), default=None)
        dls = [d for d in bl.downloads if d["task_id"] == tid and d["thread"] == f"tripo-job-{jid}"]
        dl_s = sum(d["end"] - d["start"] for d in dls)
        imp = bl.imports.get(jid)
        imp_s = (imp[1] - imp[0]) if imp else None
        threads = {t: ops for t, ops in sockd.items() if job_of_thread(t) == jid}
        worker = sockd.get(f"tripo-job-{jid}", {})
        api_polls = polls_in_log(log, tid)
        checked, fast, worst = _guidance_check(mine)
        c = created.get(tid, {})
        per.append({
            "job": jid, "task_id": tid, "server_final": fin,
            "final_after_deadline_s": (fin - finals[tid]["deadline"]) if fin and finals.get(tid, {}).get("deadline")
            else None,
            "notice_worker_s": (first_ok - fin) if first_ok and fin else None,
            "notice_main_s": (bl.main_seen[tid] - fin) if tid in bl.main_seen and fin else None,
            "polls_worker": len([p for p in mine if p["status"] in ("queued", "running", "success", "unknown")
                                 and (first_ok is None or p["end"] <= first_ok)]),
            "polls_api": api_polls,
            "sdk_polls": _sdk_polls(c.get("t0", fin or 0), fin, None) if fin and c else None,
            "intervals_checked": checked, "intervals_faster_than_guidance": fast, "worst_interval_ratio": worst,
            "download_s": dl_s, "import_s": imp_s,
            "success_to_scene_s": (imp[1] - first_ok) if imp and first_ok else None,
            "overhead_s": (imp[1] - first_ok - dl_s - imp_s) if imp and first_ok else None,
            "requests": sum(int(ops.get("http_request", [0])[0]) for ops in threads.values()) + shared_req,
            "connections": sum(int(ops.get("connect", [0])[0]) for ops in threads.values()) + shared_conn,
            "requests_shared": shared_req, "connections_shared": shared_conn,
            "timeline_ms": _timeline(first_ok, dls, bl.finished_seen.get(jid), imp),
            # where the overhead goes: journal saves of this job's worker (fsyncs), and the wait for the main thread
            "journal_ms": 1000 * sum(v["end"] - v["start"] for v in bl.saves if v["thread"] == f"tripo-job-{jid}"
                                     and first_ok and imp and first_ok <= v["start"] <= imp[1]),
            "main_wait_ms": 1000 * (imp[0] - bl.finished_seen[jid]) if imp and jid in bl.finished_seen else None,
            "polls": [(round(p["start"] - (c.get("t0") or p["start"]), 3), round(p["end"] - p["start"], 4),
                       p["status"], p["eta"]) for p in sorted(mine, key=lambda p: p["start"])],
            "requests_worker": int(worker.get("http_request", [0])[0]),
            "connections_worker": int(worker.get("connect", [0])[0]),
        })
    res["ours"] = {"completed": ok, "per_task": per, "tick_ms": tick_stats(ticks),
                   "main_thread_sockets": main_socket_calls(sock0), **_poll_budget(log, [p["task_id"] for p in per])}
    _lat_summary(res["ours"])
    o = res["ours"]
    say(f"latency/ours: notice median {o['notice_worker_s']['median']:.2f} s (main "
        f"{o['notice_main_s']['median']:.2f}), overhead median {o['overhead_ms']['median']:.0f} ms, "
        f"polls {o['polls_api']['median']}, requests {o['requests']['median']}, conns {o['connections']['median']}")

    # ---- the naive baseline
    from bench.naive import NaiveAddon

    key = emu.account("tsk_latnaive_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    emu.time_scale(scale)
    naive = NaiveAddon(emu.base_url, key, bl.tmp / "naive" / key, importer=bl.import_glb, api=emu.api)
    sock0 = sockets.snapshot()
    nticks: list[dict] = []
    jobs = []
    for i in range(n):
        jobs.append(naive.submit({"type": "text_to_model", "prompt": f"a small cat figurine {i}"}))
        pump(naive_tick(naive), lambda: False, bl.tick, gap, nticks)
    ok = pump(naive_tick(naive), naive.done, bl.tick, cfg["max_s"], nticks)
    sockd = sockets.diff(sockets.snapshot(), sock0)
    events = emu.events()
    finals = {e["id"]: e for e in events if e["ev"] == "final"}
    created = {e["id"]: e for e in events if e["ev"] == "created"}
    log = emu.requests_of(key)
    per = []
    for j in jobs:
        fin = finals.get(j.task_id, {}).get("t")
        polls = [{"start": a, "end": b, "status": s, "eta": e} for a, b, s, e in j.polls]
        checked, fast, worst = _guidance_check(polls)
        dl_s = (j.download[1] - j.download[0]) if j.download else 0.0
        imp_s = (j.imported[1] - j.imported[0]) if j.imported else None
        scene = j.imported[1] if j.imported else None
        api_polls = polls_in_log(log, str(j.task_id))
        c = created.get(j.task_id, {})
        per.append({
            "task_id": j.task_id, "server_final": fin,
            "notice_worker_s": (j.noticed - fin) if j.noticed and fin else None,
            "notice_main_s": (j.noticed - fin) if j.noticed and fin else None,
            "polls_worker": len(j.polls), "polls_api": api_polls,
            "sdk_polls": _sdk_polls(c.get("t0", fin or 0), fin, None) if fin and c else None,
            "intervals_checked": checked, "intervals_faster_than_guidance": fast, "worst_interval_ratio": worst,
            "download_s": dl_s, "import_s": imp_s,
            "success_to_scene_s": (scene - j.noticed) if scene and j.noticed else None,
            "overhead_s": (scene - j.noticed - dl_s - imp_s) if scene and j.noticed else None,
            # every naive request is a new connection on the main thread: all of them count for this task
            "requests": 1 + j.refused + len(j.polls) + (1 if j.download else 0),
            "connections": 1 + j.refused + len(j.polls) + (1 if j.download else 0),
        })
    res["naive"] = {"completed": ok, "per_task": per, "tick_ms": tick_stats(nticks),
                    **_poll_budget(log, [p["task_id"] for p in per]),
                    "main_thread_sockets": main_socket_calls(sock0),
                    "main_thread_connects": int(sockd.get(sockets.MAIN, {}).get("connect", [0])[0])}
    _lat_summary(res["naive"])
    o = res["naive"]
    say(f"latency/naive: notice median {o['notice_worker_s']['median']:.2f} s, polls {o['polls_api']['median']}")
    bl.runtime.shutdown()
    return res


def _poll_budget(log: list[dict], task_ids: list[str]) -> dict:
    """Poll requests the API received (v2 GET /task, v3 GET /v3/tasks/<id> and tasks/list) against the budget of the
    official rule, each task asked about at most every 2 s over its life (its first to its last ask)."""
    polls = [r for r in log if r.get("route") in ("poll", "list")]
    budget = 0
    for tid in task_ids:
        asked = [r["time"] for r in polls if tid in r["path"] or tid in ((r.get("body") or {}).get("task_ids") or ())]
        if asked:
            budget += math.floor((max(asked) - min(asked)) / SDK_FLOOR) + 1
    return {"poll_requests": len(polls), "poll_budget": budget}


def _timeline(noticed, dls, finished_main, imp) -> dict | None:
    """Milliseconds after the worker got the success answer: download start/end, main thread got the finished
    event, import start/end."""
    if noticed is None:
        return None

    def ms(t):
        return None if t is None else round((t - noticed) * 1000, 1)

    return {"download_start": ms(min((d["start"] for d in dls), default=None)),
            "download_end": ms(max((d["end"] for d in dls), default=None)),
            "finished_on_main": ms(finished_main), "import_start": ms(imp[0] if imp else None),
            "import_end": ms(imp[1] if imp else None)}


def _lat_summary(r: dict) -> None:
    per = r["per_task"]
    r["notice_worker_s"] = summary([p["notice_worker_s"] for p in per])
    r["notice_main_s"] = summary([p["notice_main_s"] for p in per])
    r["overhead_ms"] = summary([p["overhead_s"] * 1000 if p["overhead_s"] is not None else None for p in per])
    if per and "journal_ms" in per[0]:
        r["journal_ms"] = summary([p["journal_ms"] for p in per])
        r["main_wait_ms"] = summary([p["main_wait_ms"] for p in per])
        worst = max((p for p in per if p["overhead_s"] is not None), key=lambda p: p["overhead_s"], default=None)
        r["worst_overhead"] = worst and {k: worst[k] for k in ("overhead_s", "journal_ms", "main_wait_ms",
                                                                 "timeline_ms", "download_s", "import_s")}
    r["success_to_scene_s"] = summary([p["success_to_scene_s"] for p in per])
    r["download_s"] = summary([p["download_s"] for p in per])
    r["import_s"] = summary([p["import_s"] for p in per])
    r["polls_api"] = summary([p["polls_api"] for p in per])
    r["polls_worker"] = summary([p["polls_worker"] for p in per])
    r["sdk_polls"] = summary([p["sdk_polls"] for p in per])
    r["faster_than_guidance"] = sum(p["intervals_faster_than_guidance"] for p in per)
    r["intervals_checked"] = sum(p["intervals_checked"] for p in per)
    r["worst_interval_ratio"] = min((p["worst_interval_ratio"] for p in per if p["worst_interval_ratio"] is not None),
                                    default=None)
    r["requests"] = summary([p["requests"] for p in per])
    r["connections"] = summary([p["connections"] for p in per])
    r["connections_worker"] = summary([p.get("connections_worker", p["connections"]) for p in per])
    r["connections_shared_total"] = sum(p.get("connections_shared", 0) for p in per)
    r["requests_shared_total"] = sum(p.get("requests_shared", 0) for p in per)


def scenario_cpu(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    n, window, scale = cfg["cpu_jobs"], cfg["cpu_window"], cfg["cpu_scale"]
    res: dict = {"jobs": n, "window_s": window}

    def measure(tick_fn, seconds: float) -> dict:
        ticks: list[dict] = []
        c0, m0, e0, w0 = rusage_cpu(), time.thread_time(), emu.cpu_seconds(), time.monotonic()
        pump(tick_fn, lambda: False, bl.pace if tick_fn == bl.modal_tick else bl.tick, seconds, ticks)
        c1, m1, e1, w1 = rusage_cpu(), time.thread_time(), emu.cpu_seconds(), time.monotonic()
        wall = w1 - w0
        return {"wall_s": wall, "process_cpu_s": c1 - c0, "process_cpu_pct": 100 * (c1 - c0) / wall,
                "main_cpu_pct": 100 * (m1 - m0) / wall, "emulator_cpu_pct": 100 * (e1 - e0) / wall,
                "ticks": len(ticks), "tick_ms": tick_stats(ticks)}

    # no jobs at all: what this process (Blender + the idle poller) costs anyway
    key = emu.account("tsk_cpu_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    bl.engine()
    res["bare"] = measure(lambda: None, cfg["cpu_baseline"])  # Blender alone: no poller ticks at all
    res["idle_no_jobs"] = measure(bl.modal_tick, cfg["cpu_baseline"])

    emu.time_scale(scale)
    sock0 = sockets.snapshot()
    ids = [bl.submit_text(f"a stone lantern {i}")[0] for i in range(n)]
    pump(bl.modal_tick, lambda: False, bl.pace, 3.0)
    m = measure(bl.modal_tick, window)
    eng = bl.engine()
    polling = sum(1 for j in ids if eng.get(j)["state"] in ("queued", "running"))
    m["jobs_polling_at_end"] = polling
    m["net_cpu_pct"] = m["process_cpu_pct"] - res["idle_no_jobs"]["process_cpu_pct"]
    m["main_thread_sockets"] = main_socket_calls(sock0)
    res["ours"] = m
    for j in ids:
        eng.cancel(j)
    pump(bl.modal_tick, lambda: False, bl.pace, 0.5)
    bl.runtime.shutdown()
    say(f"cpu/ours: {m['process_cpu_pct']:.2f} % of a core ({m['net_cpu_pct']:.2f} % above no jobs), "
        f"{polling}/{n} still polling")

    from bench.naive import NaiveAddon

    key = emu.account("tsk_cpunaive_" + uuid.uuid4().hex[:8])
    bl.fresh(key)
    emu.time_scale(scale)
    naive = NaiveAddon(emu.base_url, key, bl.tmp / "naive" / key, importer=bl.import_glb, api=emu.api)
    for i in range(n):
        naive.submit({"type": "text_to_model", "prompt": f"a stone lantern {i}"})
    pump(naive_tick(naive), lambda: False, bl.tick, 3.0)
    m = measure(naive_tick(naive), window)
    m["net_cpu_pct"] = m["process_cpu_pct"] - res["idle_no_jobs"]["process_cpu_pct"]
    m["jobs_polling_at_end"] = sum(1 for j in naive.jobs if not j.status)
    res["naive"] = m
    say(f"cpu/naive: {m['process_cpu_pct']:.2f} % of a core")
    return res


def scenario_scale(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    n, scale = cfg["scale_jobs"], cfg["scale_scale"]
    res: dict = {"jobs": n, "time_scale": scale}

    def server_peak(key: str) -> int:
        ev = emu.events()
        mine = {e["id"] for e in ev if e["ev"] == "created" and e.get("key") == key}
        points = []
        for e in ev:
            if e.get("id") in mine and e["ev"] in ("created", "final"):
                points.append((e["t0"] if e["ev"] == "created" else e["t"], 1 if e["ev"] == "created" else -1))
        cur = peak = 0
        for _t, d in sorted(points):
            cur += d
            peak = max(peak, cur)
        return peak

    def task_seconds(key: str) -> dict:
        """How long the account's tasks took on the server (creation to deadline: queue + run, jittered)."""
        return summary([e["deadline"] - e["t0"] for e in emu.events() if e["ev"] == "created" and e.get("key") == key])

    # ---- the add-on
    key = emu.account("tsk_scale_" + uuid.uuid4().hex[:8])
    bl.fresh(key, auto_import=False)
    emu.time_scale(scale)
    eng = bl.engine()
    sock0 = sockets.snapshot()
    c0, w0 = rusage_cpu(), time.monotonic()
    submit_s = []
    ids = []
    for i in range(n):
        jid, dt = bl.submit_text(f"a potted plant {i}")
        ids.append(jid)
        submit_s.append(dt)
    ticks: list[dict] = []

    def done() -> bool:
        return len(bl.finished_seen.keys() & set(ids)) == n or all(eng.get(j)["final"] for j in ids[-1:]) and all(
            eng.get(j)["final"] for j in ids)

    ok = pump(bl.modal_tick, done, bl.pace, cfg["max_scale_s"], ticks)
    wall = time.monotonic() - w0
    cpu = rusage_cpu() - c0
    log = emu.requests_of(key)
    states: dict[str, int] = {}
    for j in ids:
        s = eng.get(j)["state"]
        states[s] = states.get(s, 0) + 1
    res["ours"] = {
        "completed": ok, "work_off_s": wall, "states": states,
        "http_429": sum(1 for r in log if r.get("status") == 429),
        "posts": sum(1 for r in log if r["method"] == "POST"), "gets": sum(1 for r in log if r["method"] == "GET"),
        "server_peak": server_peak(key), "engine_peak": max((s.peak for s in eng.slots.values()), default=0),
        "slots": max((s.limit for s in eng.slots.values()), default=10),
        "task_s": task_seconds(key),
        "submit_ms": summary([s * 1000 for s in submit_s]), "submit_total_s": sum(submit_s),
        "tick_ms": tick_stats(ticks), "tick_cpu_ms": tick_stats(ticks, "work_cpu"), "process_cpu_pct": 100 * cpu / wall,
        "raw_ticks_ms": [(round(t["work"] * 1000, 3), round(t["work_cpu"] * 1000, 3)) for t in ticks],
        "threads_peak": None, "main_thread_sockets": main_socket_calls(sock0),
    }
    res["ours"]["lags"] = _slot_lags(emu, key, bl.polls, res["ours"]["slots"])
    events = emu.events()
    mine = [e for e in events if e.get("key") == key and e["ev"] == "created"]
    ids_mine = {e["id"] for e in mine}
    finals = [e["t"] for e in events if e["ev"] == "final" and e.get("id") in ids_mine]
    if mine and finals:  # where the rest of the wall time goes: before the first create, after the last final
        res["ours"]["lags"]["start_s"] = min(e["t0"] for e in mine) - w0
        res["ours"]["lags"]["tail_s"] = (w0 + wall) - max(finals)
    o = res["ours"]
    say(f"scale/ours: lags {json.dumps({k: v for k, v in o['lags'].items() if k != 'raw'}, default=str)}")
    say(f"scale/ours: {n} jobs in {wall:.1f} s, 429s {o['http_429']}, server peak {o['server_peak']}, "
        f"tick median {o['tick_ms']['median']:.3f} ms p99 {o['tick_ms']['p99']:.3f} ms, states {states}")
    bl.runtime.shutdown()

    # ---- the naive baseline
    from bench.naive import NaiveAddon

    key = emu.account("tsk_scalenaive_" + uuid.uuid4().hex[:8])
    bl.fresh(key, auto_import=False)
    emu.time_scale(scale)
    naive = NaiveAddon(emu.base_url, key, bl.tmp / "naive" / key, importer=None, api=emu.api)
    sock0 = sockets.snapshot()
    w0 = time.monotonic()
    t0 = time.perf_counter()
    for i in range(n):
        naive.submit({"type": "text_to_model", "prompt": f"a potted plant {i}"})
    submit_total = time.perf_counter() - t0
    nticks: list[dict] = []
    ok = pump(naive_tick(naive), naive.done, bl.tick, cfg["max_scale_s"], nticks)
    wall = time.monotonic() - w0
    log = emu.requests_of(key)
    res["naive"] = {
        "completed": ok, "work_off_s": wall,
        "http_429": sum(1 for r in log if r.get("status") == 429),
        "posts": sum(1 for r in log if r["method"] == "POST"), "gets": sum(1 for r in log if r["method"] == "GET"),
        "server_peak": server_peak(key), "submit_total_s": submit_total,
        "submit_ms": {"median": submit_total * 1000 / n, "p99": None},
        "tick_ms": tick_stats(nticks), "main_thread_sockets": main_socket_calls(sock0),
    }
    o = res["naive"]
    say(f"scale/naive: {wall:.1f} s, 429s {o['http_429']}, server peak {o['server_peak']}")
    return res


def scenario_requests(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    """HTTP requests per finished task with many jobs in flight: the add-on on v3 (one tasks/list per poll round for
    every waiting task) against the same add-on on v2 (one GET /task per task per poll), in the same run."""
    n, scale = cfg["req_jobs"], cfg["req_scale"]
    res: dict = {"jobs": n, "time_scale": scale}
    for api, base in (("v3", emu.v3_base_url), ("v2", emu.v2_base_url)):
        key = emu.account(f"tsk_ent_req{api}_" + uuid.uuid4().hex[:8])
        bl.fresh(key, auto_import=False, base_url=base)
        eng = bl.engine()
        bl.enterprise(60)
        emu.time_scale(scale)
        ids = [bl.submit_text(f"a ceramic teapot {i}")[0] for i in range(n)]
        w0 = time.monotonic()
        ok = pump(bl.modal_tick, lambda e=eng, js=ids: all(e.get(j)["final"] for j in js), bl.pace,
                  cfg["max_s"])
        wall = time.monotonic() - w0
        pump(bl.modal_tick, lambda: not bl.runtime.background.active(), bl.pace, 10.0)  # previews
        tids = {eng.get(j)["steps"][0].get("task_id") for j in ids} - {None}
        finished = sum(1 for j in ids if eng.get(j)["state"] == "succeeded")
        log = emu.requests_of(key)
        everything = emu.ctl("GET", "/_emulator/requests")["requests"]
        downloads = [r for r in everything if r.get("route") == "download" and any(t in r["path"] for t in tids)]
        by_route: dict[str, int] = {}
        for r in log + downloads:
            by_route[r.get("route") or "?"] = by_route.get(r.get("route") or "?", 0) + 1
        polls = by_route.get("poll", 0) + by_route.get("list", 0)
        total = len(log) + len(downloads)
        res[api] = {"completed": ok, "finished": finished, "work_off_s": wall, "requests": total,
                    "by_route": by_route, "polls": polls, "http_429": sum(1 for r in log if r.get("status") == 429),
                    "per_task": total / max(1, finished), "polls_per_task": polls / max(1, finished),
                    "polls_asked_per_task": summary([polls_in_log(log, t) for t in tids])}
        say(f"requests/{api}: {total} requests for {finished} tasks ({total / max(1, finished):.2f} per task; "
            f"polls {polls}), routes {by_route}")
        bl.runtime.shutdown()
    return res


def _slot_lags(emu: EmulatorProc, key: str, polls: list[dict], slots: int) -> dict:
    """Where a slot's cycle goes beyond the task's own server time: server finish -> the add-on's poll sees it
    (notice), and notice -> the next task's creation on the server (refill: slot release, the waiting job's wake-up,
    its journal save and POST). The i-th notice is paired with the (slots + i)-th creation."""
    ev = emu.events()
    created = sorted((e["t0"], e["id"]) for e in ev if e["ev"] == "created" and e.get("key") == key)
    mine = {tid for _t, tid in created}
    finals = {e["id"]: e["t"] for e in ev if e["ev"] == "final" and e["id"] in mine}
    seen: dict[str, float] = {}
    for p in polls:
        if p["task_id"] in mine and p["status"] == "success":
            seen[p["task_id"]] = min(seen.get(p["task_id"], math.inf), p["end"])
    notice = {t: seen[t] - finals[t] for t in seen if t in finals}
    order = sorted(seen.values())
    refill = [created[slots + i][0] - t for i, t in enumerate(order) if slots + i < len(created)]
    run = [finals[t] - t0 for t0, t in created if t in finals]
    return {"notice_s": summary(list(notice.values())), "refill_s": summary(refill), "server_s": summary(run),
            "raw": {"notice": sorted(round(v, 3) for v in notice.values()),
                    "refill": [round(v, 3) for v in refill],
                    # per task in creation order: (created, server final, noticed), seconds after the first create
                    "timeline": [(round(t0 - created[0][0], 3), round(finals.get(t, math.nan) - created[0][0], 3),
                                  round(seen.get(t, math.nan) - created[0][0], 3)) for t0, t in created],
                    "asks": [[(round(p["start"] - created[0][0], 3), p["status"][:1]) for p in polls
                              if p["task_id"] == t] for _t0, t in created[:slots + 4]]}}


# ============================================================================================ retention
def _history(job_mod, n: int) -> list:
    """``n`` finished, imported jobs like a long-used add-on accumulates (about 1.2 KB each in the journal)."""
    t0 = time.time() - 86400 * 30
    jobs = []
    for i in range(n):
        tid = str(uuid.UUID(int=i + 1))
        step = job_mod.Step("text_to_model", {"prompt": f"a wooden chair number {i}, carved legs, varnished",
                                              "texture_quality": "detailed", "face_limit": 20000},
                            state="succeeded", task_id=tid, status="success", progress=100, credits=30.0, estimate=30,
                            files=[f"/home/user/tripo/{tid}/model.glb"],
                            output={"pbr_model": f"https://files.example/{tid}/model.glb?Expires=1700000000",
                                    "rendered_image": f"https://files.example/{tid}/preview.webp?Expires=1700000000"},
                            submitted_at=t0 + i * 60, finished_at=t0 + i * 60 + 45)
        jobs.append(job_mod.Job(title=f"text_to_model: a wooden chair number {i}", steps=[step], kind="single",
                                state="succeeded", imported=True, created=t0 + i * 60, updated=t0 + i * 60 + 50,
                                meta={"scene": "0123456789abcdef", "location": [0.0, 0.0, 0.0]}))
    return jobs


def scenario_retention(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    engine_mod = importlib.import_module(f"{MODULE}.jobs.engine")
    job_mod = importlib.import_module(f"{MODULE}.jobs.job")
    journal_mod = importlib.import_module(f"{MODULE}.jobs.journal")
    n = int(cfg.get("retention_jobs", 10_000))
    base = bl.tmp / "retention"
    seed = base / "seed"
    journal_mod.Journal(seed).save(_history(job_mod, n))
    size = (seed / "jobs.json").stat().st_size

    def factory():  # never called: no job runs here
        raise RuntimeError("no client in the retention bench")

    def measure(keep, label: str) -> dict:
        state = base / label / "state"
        shutil.copytree(seed, state)
        out: dict = {"journal_bytes_before": size}
        t = time.perf_counter()
        eng = engine_mod.Engine(factory, state, base / label / "dl", journal_interval=0.0,
                                **({} if keep == "old" else {"keep_finished": keep}))
        out["first_start_s"] = time.perf_counter() - t  # load (+ the one-time archiving with retention)
        out["live_jobs"] = len(eng.jobs())
        saves = []
        for _ in range(5):
            t = time.perf_counter()
            (eng.store.save if hasattr(eng, "store") else eng._save)(important=True)
            saves.append(time.perf_counter() - t)
        out["save_s"] = summary(saves)
        runtime = bl.runtime
        before = getattr(runtime, "_engine", None)
        try:
            runtime._engine = eng
            loads = []
            for _ in range(3):
                t = time.perf_counter()
                bl.poller.mirror_all()
                loads.append(time.perf_counter() - t)
            out["mirror_all_s"] = summary(loads)
        finally:
            runtime._engine = before
            eng.shutdown(timeout=2)
        out["journal_bytes_after"] = (state / "jobs.json").stat().st_size
        starts = []
        for _ in range(3):
            t = time.perf_counter()
            again = engine_mod.Engine(factory, state, base / label / "dl", journal_interval=0.0,
                                      **({} if keep == "old" else {"keep_finished": keep}))
            starts.append(time.perf_counter() - t)
            again.shutdown(timeout=2)
        out["start_s"] = summary(starts)
        return out

    old_keep = None if "keep_finished" in engine_mod.Engine.__init__.__code__.co_varnames else "old"
    res = {"jobs": n, "naive": measure(old_keep, "old"),
           "ours": measure(journal_mod.KEEP_FINISHED if hasattr(journal_mod, "KEEP_FINISHED") else "old", "ours")}
    say(f"retention: {n} jobs; live {res['ours']['live_jobs']} vs {res['naive']['live_jobs']}")
    return res


# ============================================================================================ report
def build_table(R: dict) -> list[dict]:
    rows: list[dict] = []

    def row(name, unit, ours_med, ours_p99, target, passed, naive_med=None, naive_p99=None, note=""):
        def ratio(a, b):
            ok = isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool) and b
            return a / b if ok else None

        rows.append({"figure": name, "unit": unit, "ours_median": ours_med, "ours_p99": ours_p99, "target": target,
                     "pass": passed, "naive_median": naive_med, "naive_p99": naive_p99,
                     "naive_over_ours": ratio(naive_med, ours_med), "naive_over_ours_p99": ratio(naive_p99, ours_p99),
                     "note": note})

    def g(d, *path):
        for p in path:
            if d is None:
                return None
            d = d.get(p) if isinstance(d, dict) else None
        return d

    t = R.get("ticks")
    if t:
        o, nv = t["ours"], t["naive"]
        med, p99 = o["tick_ms"]["median"], o["tick_ms"]["p99"]
        row(f"main-thread work per tick, {t['jobs']} jobs in flight + {t['big_mb']} MB download", "ms", med, p99,
            "<=1 median, <=5 p99", med is not None and med <= 1 and p99 <= 5,
            nv["tick_ms"]["median"], nv["tick_ms"]["p99"])
        row(f"  same, ticks while the {t['big_mb']} MB file downloads", "ms", o["tick_ms_during_download"]["median"],
            o["tick_ms_during_download"]["p99"], "<=1 median, <=5 p99",
            (o["tick_ms_during_download"]["median"] or 99) <= 1 and (o["tick_ms_during_download"]["p99"] or 99) <= 5,
            nv["tick_ms_during_download"]["median"], nv["tick_ms_during_download"]["p99"])
        row("  longest single tick in this scenario (imports excluded)", "ms", o["tick_ms"]["max"], None, "report",
            None, nv["tick_ms"]["max"], None)
        row("  50 MB download (worker thread; naive: main thread)", "s", o["download_s"], None, "report", None,
            nv["download_s"], None)
        row("  import of the 50 MB GLB (main thread, apart)", "s", o["big_import_s"], None, "report", None,
            nv["big_import_s"], None)
        row("  import of one small result (main thread, apart)", "ms", _ms(o["imports_s"]["median"]),
            _ms(o["imports_s"]["p99"]), "report", None)
        row("main-thread time per Generate press (operator)", "ms", o["submit_ms"]["median"], o["submit_ms"]["p99"],
            "report", None, nv["submit_ms"]["median"], None)
    main_calls = {k: g(R, k, "ours", "main_thread_sockets", "calls") for k in ("ticks", "latency", "cpu", "scale")}
    naive_calls = {k: g(R, k, "naive", "main_thread_sockets", "calls") for k in ("ticks", "latency", "cpu", "scale")}
    if any(v is not None for v in main_calls.values()):
        total = sum(v for v in main_calls.values() if v is not None)
        ntotal = sum(v for v in naive_calls.values() if v is not None)
        row("blocking socket calls on the main thread (all scenarios)", "calls", total, None, "0", total == 0, ntotal,
            None, note="connect/send/recv/getaddrinfo...")
    L = R.get("latency")
    if L:
        o, nv = L["ours"], L["naive"]
        row("server finish -> noticed by the worker", "s", o["notice_worker_s"]["median"], o["notice_worker_s"]["p99"],
            "<=1 median", (o["notice_worker_s"]["median"] or 99) <= 1, nv["notice_worker_s"]["median"],
            nv["notice_worker_s"]["p99"])
        row("server finish -> shown on the main thread", "s", o["notice_main_s"]["median"], o["notice_main_s"]["p99"],
            "report", None, nv["notice_main_s"]["median"], nv["notice_main_s"]["p99"])
        v3 = R.get("api") == "v3"
        row("polls per task (times the API was asked about it)", "polls", o["polls_api"]["median"],
            o["polls_api"]["p99"], "report", None, nv["polls_api"]["median"], nv["polls_api"]["p99"],
            note=f"official v2 SDK would make {o['sdk_polls']['median']}" + (
                "; on v3 a task rides along in every tasks/list round near its predicted end, at no extra request"
                if v3 else ""))
        if "poll_requests" in o:
            row("poll requests the API received (all tasks)", "req", o["poll_requests"], None,
                "<= 2 s rule budget", o["poll_requests"] <= o["poll_budget"], nv.get("poll_requests"), None,
                note=f"budget {o['poll_budget']}: each task asked at most every 2 s over its life")
        row("poll intervals shorter than max(2 s, ETA/2)", "count", o["faster_than_guidance"], None,
            "report (v3: budget above)" if v3 else "0", None if v3 else o["faster_than_guidance"] == 0,
            nv["faster_than_guidance"], None, note=f"of {o['intervals_checked']} intervals" + (
                " (per task; on v3 requests are shared, see the budget row)" if v3 else ""))
        row("success -> objects in scene, minus download and import", "ms", o["overhead_ms"]["median"],
            o["overhead_ms"]["p99"], "<=100", (o["overhead_ms"]["p99"] or 1e9) <= 100, nv["overhead_ms"]["median"],
            nv["overhead_ms"]["p99"], note=_overhead_note(o))
        row("HTTP requests per text->model task", "req", o["requests"]["median"], o["requests"]["p99"], "report",
            None, nv["requests"]["median"], nv["requests"]["p99"])
        row("TCP connections per text->model task (its worker)", "conn", o["connections_worker"]["median"],
            o["connections_worker"]["p99"], "1 per host", (o["connections_worker"]["p99"] or 99) <= 1,
            nv["connections"]["median"], nv["connections"]["p99"],
            note="the emulator serves API and files from one host; the naive baseline opens one per request")
        row("  + preview images and v3 poll rounds, all tasks together (shared threads)", "conn",
            o["connections_shared_total"], None,
            "report", None, None, None, note=f"{L['jobs']} tasks; {o['requests_shared_total']:.0f} requests")
    C = R.get("cpu")
    if C:
        o, nv = C["ours"], C["naive"]
        row(f"process CPU, {C['jobs']} jobs polling (emulator excluded)", "% core", o["process_cpu_pct"], None, "<1",
            o["process_cpu_pct"] < 1, nv["process_cpu_pct"], None,
            note=f"same process with the poller ticking and no jobs: {C['idle_no_jobs']['process_cpu_pct']:.2f} %, "
            f"Blender alone (no ticks): {C['bare']['process_cpu_pct']:.2f} %" if "bare" in C else "")
    S = R.get("scale")
    if S:
        o, nv = S["ours"], S["naive"]
        row(f"{S['jobs']} jobs at once: HTTP 429 answers", "count", o["http_429"], None, "0", o["http_429"] == 0,
            nv["http_429"], None)
        row(f"{S['jobs']} jobs at once: peak tasks on the server", "tasks", o["server_peak"], None, "<=10",
            o["server_peak"] <= 10, nv["server_peak"], None)
        row(f"{S['jobs']} jobs at once: time to work off", "s", o["work_off_s"], None, "report",
            o["completed"], nv["work_off_s"], None)
        if o.get("task_s"):
            floor = S["jobs"] / o["slots"] * o["task_s"]["mean"]
            row(f"{S['jobs']} jobs at once: physical floor (tasks / slots x task time)", "s", floor, None, "report",
                None, None, None, note=f"{S['jobs']} tasks / {o['slots']} slots x {o['task_s']['mean']:.3f} s "
                f"(mean server time per task); ours is {o['work_off_s'] / floor:.2f}x the floor")
        row(f"{S['jobs']} jobs at once: main-thread work per tick", "ms", o["tick_ms"]["median"], o["tick_ms"]["p99"],
            "<=1 median, <=5 p99", (o["tick_ms"]["median"] or 99) <= 1 and (o["tick_ms"]["p99"] or 99) <= 5,
            nv["tick_ms"]["median"], nv["tick_ms"]["p99"])
        row(f"{S['jobs']} jobs at once: main thread to submit them all", "s", o["submit_total_s"], None, "report",
            None, nv["submit_total_s"], None)
    Q = R.get("requests")
    if Q:
        o, nv = Q["v3"], Q["v2"]
        row(f"HTTP requests per finished task, {Q['jobs']} jobs in flight (naive cols: same add-on on v2)", "req",
            o["per_task"], None, "v3 < v2", o["per_task"] < nv["per_task"], nv["per_task"], None,
            note=f"v3 {o['requests']} requests for {o['finished']} tasks {o['by_route']}; "
            f"v2 {nv['requests']} for {nv['finished']} {nv['by_route']}")
        row("  of which poll requests (v3 tasks/list, v2 GET /task)", "req", o["polls_per_task"], None, "report", None,
            nv["polls_per_task"], None,
            note=f"each task was asked about {o['polls_asked_per_task']['median']} times on v3 (median), "
            f"{nv['polls_asked_per_task']['median']} on v2")
    T = R.get("retention")
    if T:
        o, nv = T["ours"], T["naive"]
        n = T["jobs"]
        row(f"{n:,} finished jobs: important journal save", "ms", _ms(o["save_s"]["median"]),
            _ms(o["save_s"]["p99"]), "<=50", (o["save_s"]["median"] or 9) <= 0.05, _ms(nv["save_s"]["median"]),
            _ms(nv["save_s"]["p99"]), note=f"live jobs: {o['live_jobs']} (ours) vs {nv['live_jobs']} (old); journal "
            f"{o['journal_bytes_after'] / 1e6:.2f} MB vs {nv['journal_bytes_after'] / 1e6:.2f} MB")
        row(f"{n:,} finished jobs: engine start (journal load)", "ms", _ms(o["start_s"]["median"]), None, "<=100",
            (o["start_s"]["median"] or 9) <= 0.1, _ms(nv["start_s"]["median"]), None,
            note=f"the first start archives the old jobs once: {o['first_start_s']:.2f} s")
        row(f"{n:,} finished jobs: task list rebuild at file load (mirror_all)", "ms",
            _ms(o["mirror_all_s"]["median"]), None, "<=100", (o["mirror_all_s"]["median"] or 9) <= 0.1,
            _ms(nv["mirror_all_s"]["median"]), None)
    return rows


def _overhead_note(o: dict) -> str:
    """Where success -> scene goes: journal saves (fsync) on the worker and the wait for the main thread."""
    if "journal_ms" not in o:
        return ""
    j, m, w = o["journal_ms"], o["main_wait_ms"], o.get("worst_overhead") or {}
    return (f"of which journal saves (fsync) {fmt(j['median'])} / {fmt(j['p99'])} ms and the wait for the main "
            f"thread {fmt(m['median'])} / {fmt(m['p99'])} ms (median / p99); slowest task "
            f"{fmt((w.get('overhead_s') or 0) * 1000)} ms: journal {fmt(w.get('journal_ms'))} ms, main-thread wait "
            f"{fmt(w.get('main_wait_ms'))} ms")


def _ms(v):
    return None if v is None else v * 1000.0


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3f}"
    return str(v)


def render_table(rows: list[dict]) -> str:
    head = ["figure", "unit", "ours med", "ours p99", "target", "pass", "naive med", "naive p99", "naive/ours med",
            "naive/ours p99"]
    body = []
    for r in rows:
        rm, rp = r["naive_over_ours"], r.get("naive_over_ours_p99")
        body.append([r["figure"], r["unit"], fmt(r["ours_median"]), fmt(r["ours_p99"]), r["target"],
                     "-" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL"), fmt(r["naive_median"]),
                     fmt(r["naive_p99"]), "-" if rm is None else f"{rm:.3g}x", "-" if rp is None else f"{rp:.3g}x"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for b in body:
        lines.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(b, widths, strict=True)) + " |")
    notes = [f"- {r['figure'].strip()}: {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines + ([""] + notes if notes else []))


def scenario_batch(bl: Blender, emu: EmulatorProc, cfg: dict) -> dict:
    """A batch of text rows (jobs/batch.py on the add-on's engine, as the sidebar runs it) against its physical floor:
    rows x task time on the server / the account's pool slots (assets, issue 19)."""
    n, scale = int(cfg.get("batch_rows", 30)), float(cfg.get("batch_scale", 0.2))
    batch = importlib.import_module(f"{MODULE}.jobs.batch")
    key = emu.account("tsk_batch_" + uuid.uuid4().hex[:8])
    bl.fresh(key, auto_import=False)
    emu.time_scale(scale)
    rows_file = bl.tmp / f"batch_{key}.txt"
    rows_file.write_text("\n".join(f"a carved wooden figure {i}" for i in range(n)) + "\n", encoding="utf-8")
    eng = bl.engine()
    runner = batch.BatchRunner(eng, batch.parse_rows(rows_file), bl.tmp / "batch_out" / key)
    w0 = time.monotonic()
    ok = pump(lambda: (runner.tick(), bl.modal_tick())[1], runner.finished, bl.pace, cfg.get("max_scale_s", 240))
    wall = time.monotonic() - w0
    created = [e for e in emu.events() if e["ev"] == "created" and e.get("key") == key]
    task_s = summary([e["deadline"] - e["t0"] for e in created])
    slots = max((s.limit for s in eng.slots.values()), default=10)
    floor = n * (task_s["median"] or 0.0) / max(1, slots)
    s = runner.summary()
    res = {"rows": n, "time_scale": scale, "completed": ok, "wall_s": wall, "task_s": task_s, "slots": slots,
           "floor_s": floor, "over_floor": wall / floor if floor else None, "done": s["done"], "creates": len(created),
           "rows_per_min": 60.0 * s["done"] / wall if wall else None}
    say(f"batch: {s['done']}/{n} rows in {wall:.1f} s, floor {floor:.1f} s ({n} x {task_s['median'] or 0:.2f} s / "
        f"{slots} slots), {res['over_floor'] or 0:.2f}x the floor, {len(created)} creates")
    bl.runtime.shutdown()
    return res


def batch_rows(R: dict) -> list[dict]:
    """The batch scenario's table row (rows in the same shape as build_table's)."""
    b = R.get("batch")
    if not b:
        return []
    return [{"figure": f"batch of {b['rows']} rows: wall time over the physical floor", "unit": "x",
             "ours_median": b["over_floor"], "ours_p99": None, "target": "<=1.5",
             "pass": bool(b["completed"] and b["done"] == b["rows"] == b["creates"] and (b["over_floor"] or 9) <= 1.5),
             "naive_median": None, "naive_p99": None, "naive_over_ours": None, "naive_over_ours_p99": None,
             "note": f"{b['rows_per_min'] or 0:.0f} rows/min; floor = rows x {b['task_s']['median'] or 0:.2f} s task / "
                     f"{b['slots']} slots = {b['floor_s']:.1f} s; one create per row"}]


# ============================================================================================ main
CONFIGS = {
    "full": {"load_jobs": 50, "load_scale": 0.5, "big_scale": 0.1, "big_mb": 50, "big_seconds": 4.0, "max_s": 150,
             "lat_jobs": 12, "lat_scale": 0.5, "lat_gap": 0.8,
             "cpu_jobs": 10, "cpu_window": 20.0, "cpu_scale": 1.0, "cpu_baseline": 5.0,
             "scale_jobs": 200, "scale_scale": 0.02, "max_scale_s": 240, "req_jobs": 50, "req_scale": 0.3},
    "quick": {"load_jobs": 50, "load_scale": 0.3, "big_scale": 0.1, "big_mb": 50, "big_seconds": 3.0, "max_s": 90,
              "lat_jobs": 6, "lat_scale": 0.3, "lat_gap": 0.6,
              "cpu_jobs": 10, "cpu_window": 8.0, "cpu_scale": 0.6, "cpu_baseline": 3.0,
              "scale_jobs": 60, "scale_scale": 0.02, "max_scale_s": 120, "req_jobs": 50, "req_scale": 0.2},
}
SCENARIOS = {"latency": scenario_latency, "ticks": scenario_ticks, "cpu": scenario_cpu, "scale": scenario_scale,
             "requests": scenario_requests, "retention": scenario_retention, "batch": scenario_batch}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter run with smaller numbers")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    ap.add_argument("--out", type=Path, default=OUT / "bench.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--api", choices=("v3", "v2"), default="v3",
                    help="the emulator API the scenarios use (the requests scenario always measures both)")
    ap.add_argument("--table", type=Path, default=None, help="print the table of an earlier run's JSON and stop")
    ap.add_argument("--addon-src", type=Path, default=None,
                    help="bench the add-on of another checkout (e.g. `git worktree add /tmp/old <commit>`)")
    args = ap.parse_args(argv)
    if args.table is not None:
        print(render_table(build_table(json.loads(args.table.read_text(encoding="utf-8")))))
        return 0
    mode = "quick" if args.quick else "full"
    cfg = CONFIGS[mode]
    only = [s.strip() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    for s in only:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}")

    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below (stop the emulator child)
    tmp = Path(tempfile.mkdtemp(prefix="tripo-bench-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(tmp / "user")
    say(f"mode {mode}; scratch {tmp}")
    emu = EmulatorProc(tmp / "emulator", api=args.api)
    say(f"emulator (child process {emu.pid}) at {emu.base_url}")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    results: dict = {"mode": mode, "config": cfg, "machine": machine, "api": args.api}
    try:
        bl = Blender(tmp, emu, args.addon_src)
        if args.addon_src is not None:
            results["addon_src"] = str(args.addon_src)
        results["machine"]["blender"] = bl.bpy.app.version_string
        results["tick_s"] = bl.tick
        for name in only:
            say(f"--- {name}")
            t0 = time.monotonic()
            results[name] = SCENARIOS[name](bl, emu, cfg)
            results[name]["elapsed_s"] = time.monotonic() - t0
        bl.runtime.shutdown()
    finally:
        emu.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = time.monotonic() - started
    rows = build_table(results) + batch_rows(results)
    results["table"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print()
    print(render_table(rows))
    print(f"\nmode {mode}, tick {results.get('tick_s')} s, {results['elapsed_s']:.0f} s in all; raw: {args.out}")
    sys.stdout.flush()
    os._exit(0)  # bpy can crash while the interpreter shuts down (testing-recipes.md 1.4)


if __name__ == "__main__":
    sys.exit(main())
