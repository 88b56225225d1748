"""The naive baseline: the pattern of the weakest competitors (anchors.md A3: Meshy OSS, CSM, blender-mcp,
Sketchfab's download), measured in the same run as the add-on.

Everything happens on Blender's main thread, inside the timer tick: ``requests.post`` to create, a fixed 2 s
``requests.get`` poll of every task (no keep-alive session, as ``requests.get`` does), and on success the download
(``requests.get`` streamed to disk) and the import, in the same tick. A refused creation (429) is simply sent again
on the next 2 s round, which is what a fixed-interval loop does. No bpy import here: the importer is passed in.

It speaks either API (``api="v3"``, the default, or ``"v2"``): v3 creates through the task type's route
(``POST /v3/generation/text-to-model`` with ``model``) and polls ``GET /v3/tasks/<id>``, one task per request, as
a naive loop over jobs does (it does not know ``tasks/list``); v2 uses ``POST /task`` and ``GET /task/<id>``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

POLL_INTERVAL = 2.0
V3_ROUTES = {"text_to_model": "/v3/generation/text-to-model"}
V3_MODEL = "v2.5-20250123"  # what Tripo's v3 SDK sends when the caller does not choose


@dataclass
class NaiveJob:
    body: dict
    created: float = 0.0             # time the POST succeeded
    task_id: str | None = None
    next_at: float = 0.0
    polls: list[tuple[float, float, str, float | None]] = field(default_factory=list)  # (start, end, status, eta)
    refused: int = 0                 # 429 answers to its POST
    noticed: float | None = None     # the GET that answered success returned
    download: tuple[float, float, int] | None = None
    imported: tuple[float, float] | None = None
    status: str = ""
    files: list[str] = field(default_factory=list)


class NaiveAddon:
    def __init__(self, base_url: str, api_key: str, download_dir: Path,
                 importer: Callable[[str], None] | None = None, *, interval: float = POLL_INTERVAL,
                 download: bool = True, api: str = "v3") -> None:
        self.base_url = base_url.rstrip("/")
        self.api = api
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.download_dir = Path(download_dir)
        self.importer = importer
        self.interval = interval
        self.do_download = download
        self.jobs: list[NaiveJob] = []

    # -- what a button press does --------------------------------------------------------------------------------
    def submit(self, body: dict) -> NaiveJob:
        job = NaiveJob(body=dict(body))
        self.jobs.append(job)
        self._post(job)
        return job

    def _post(self, job: NaiveJob) -> None:
        if self.api == "v3":
            body = {k: v for k, v in job.body.items() if k != "type"}
            body.setdefault("model", V3_MODEL)
            url = self.base_url + V3_ROUTES[job.body["type"]]
        else:
            body, url = job.body, self.base_url + "/task"
        r = requests.post(url, json=body, headers=self.headers, timeout=60)
        if r.status_code == 429:
            job.refused += 1
            job.next_at = time.monotonic() + self.interval
            return
        r.raise_for_status()
        job.task_id = r.json()["data"]["task_id"]
        job.created = time.monotonic()
        job.next_at = job.created + self.interval

    # -- the timer tick --------------------------------------------------------------------------------------------
    def tick(self) -> float:
        """One timer callback. Returns the seconds spent importing (reported apart from the tick)."""
        now = time.monotonic()
        spent_import = 0.0
        for job in self.jobs:
            if job.status in ("success", "failed", "banned", "expired", "cancelled") or job.next_at > now:
                continue
            if job.task_id is None:
                self._post(job)
                continue
            t0 = time.monotonic()
            path = f"/v3/tasks/{job.task_id}" if self.api == "v3" else f"/task/{job.task_id}"
            r = requests.get(self.base_url + path, headers=self.headers, timeout=60)
            data = r.json().get("data") or {}
            t1 = time.monotonic()
            status = data.get("status", "")
            eta = data.get("running_left_time")
            job.polls.append((t0, t1, status, eta if isinstance(eta, int | float) and eta >= 0 else None))
            job.next_at = t1 + self.interval
            if status in ("queued", "running", "unknown"):
                continue
            job.status = status
            if status != "success":
                continue
            job.noticed = t1
            if not self.do_download:
                continue
            out = data.get("output") or {}
            url = out.get("model_url") or out.get("pbr_model") or out.get("model") or out.get("base_model")
            if not url:
                continue
            dest = self.download_dir / job.task_id
            dest.mkdir(parents=True, exist_ok=True)
            path = dest / (url.split("?")[0].rsplit("/", 1)[-1] or "model.glb")
            d0 = time.monotonic()
            size = 0
            with requests.get(url, stream=True, timeout=60) as resp:
                resp.raise_for_status()
                with open(path, "wb") as fh:
                    for chunk in resp.iter_content(1 << 16):
                        fh.write(chunk)
                        size += len(chunk)
            d1 = time.monotonic()
            job.download = (d0, d1, size)
            job.files.append(str(path))
            if self.importer is not None:
                i0 = time.monotonic()
                self.importer(str(path))
                i1 = time.monotonic()
                job.imported = (i0, i1)
                spent_import += i1 - i0
        return spent_import

    def done(self) -> bool:
        return all(j.status and j.status not in ("queued", "running", "unknown") for j in self.jobs)
