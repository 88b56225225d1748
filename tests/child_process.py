"""A child process (a script in the bpy module, a headless batch) whose output is read in the background."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading


class ChildProcess:
    """Runs ``argv``; stdout lines go to :attr:`lines` (a queue) and :attr:`out`, stderr to :attr:`err`."""

    def __init__(self, argv: list[str], env: dict, cwd: str) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                     cwd=cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self._t = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, True), daemon=True),
                   threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, False), daemon=True)]
        for t in self._t:
            t.start()

    def _pump(self, stream, sink: list[str], to_queue: bool) -> None:
        for line in stream:
            sink.append(line)
            if to_queue:
                self.lines.put(line.rstrip("\n"))

    def wait(self, timeout: float) -> int:
        """Its exit code, once both streams are read to the end."""
        rc = self.proc.wait(timeout)
        for t in self._t:
            t.join(5)
        return rc

    def kill(self) -> None:
        """SIGKILL (if it still runs), then wait for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait(30)

    def log(self, out_tail: int = 4000, err_tail: int = 4000) -> str:
        """The tails of its stdout and stderr, for an assertion message."""
        return "".join(self.out)[-out_tail:] + "\n--- stderr ---\n" + "".join(self.err)[-err_tail:]
