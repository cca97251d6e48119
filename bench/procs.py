"""Processes the harness starts: spawning pinned to cores, CPU and memory from /proc, stopping by PID."""

from __future__ import annotations

import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parent.parent
LIVE: dict[int, Proc] = {}  # the harness's running children, by PID


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cores() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0))


def core_plan() -> tuple[set[int] | None, set[int] | None]:
    """(cores for the gateway, cores for fake + load): gateway alone on the last core when ≥ 2."""
    available = cores()
    if len(available) < 2:
        return None, None
    return {available[-1]}, set(available[:-1])


def _pin(pin: set[int] | None) -> Callable[[], None] | None:
    if not pin:
        return None

    def apply() -> None:
        os.sched_setaffinity(0, pin)

    return apply


class Proc:
    """A child process started by the harness; stopped only by its own PID."""

    def __init__(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: str | Path | None = None, pin: set[int] | None = None, log: Path | None = None,
                 stdout_pipe: bool = False) -> None:
        self.name = name
        self.log_path = log
        self._log: IO[bytes] | None = open(log, "ab") if log else None
        out: int | IO[bytes] = subprocess.PIPE if stdout_pipe else (self._log or subprocess.DEVNULL)
        self.popen = subprocess.Popen(
            list(argv), env=dict(env) if env is not None else None, cwd=cwd, stdout=out,
            stderr=self._log or subprocess.DEVNULL, preexec_fn=_pin(pin),
        )
        self.pid = self.popen.pid
        LIVE[self.pid] = self

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        LIVE.pop(self.pid, None)
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.popen.returncode

    def tail(self, chars: int = 3000) -> str:
        """The end of this process's log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
            found.extend(int(c) for c in text.split())
    except OSError:
        pass
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(_children(p))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (incl. reaped children)."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of ``pid`` and its descendants, in MB."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def machine_busy_seconds() -> float:
    """CPU seconds all cores of the machine have been busy (not idle, not waiting for I/O)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def harness_seconds() -> float:
    """CPU seconds of the harness itself, its reaped children and its live child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    return total + sum(cpu_seconds(pid) for pid, p in list(LIVE.items()) if p.alive())


class MachineLoad:
    """CPU the rest of the machine (not the harness and its processes) uses over a window."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0 = machine_busy_seconds()
        self.own0 = harness_seconds()

    def other_pct(self) -> float:
        """Other processes' CPU since the start, in % of one core."""
        elapsed = time.monotonic() - self.t0
        other = (machine_busy_seconds() - self.busy0) - (harness_seconds() - self.own0)
        return round(max(other, 0.0) / elapsed * 100, 1) if elapsed > 0 else 0.0


def wait_quiet(limit_pct: float, max_wait: float) -> tuple[float, float]:
    """Wait (≤ ``max_wait`` s) until other processes use < ``limit_pct`` % of a core; (waited s, last %)."""
    start = time.monotonic()
    while True:
        probe = MachineLoad()
        time.sleep(1.0)
        pct = probe.other_pct()
        waited = time.monotonic() - start
        if pct < limit_pct or waited >= max_wait:
            return round(waited, 1), pct


def machine() -> dict[str, object]:
    """CPU model, core count, OS and Python of this machine."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count() or len(cores()), "mem_mb": mem, "kernel": platform.release(),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable}


REFERENCE_LOOP = "import time\nt=time.perf_counter()\ns=0\nfor i in range(1_000_000): s+=i\nprint(time.perf_counter()-t)"


def core_speed_ms(pin: set[int] | None, samples: int = 3) -> float:
    """How long a fixed pure-Python loop (1M additions) takes on ``pin``'s cores right now, in ms
    (the median of ``samples`` runs): this virtual machine's speed drifts by tens of percent, and
    CPU-per-request figures with it."""
    times = []
    for _ in range(samples):
        done = subprocess.run([sys.executable, "-c", REFERENCE_LOOP], capture_output=True, text=True,
                              timeout=60, preexec_fn=_pin(pin))
        times.append(float(done.stdout.strip()) * 1000)
    return round(sorted(times)[len(times) // 2], 1)


def wait_until(check: Callable[[], bool], timeout: float, what: str, proc: Proc | None = None) -> None:
    """Poll ``check`` until true; raise naming ``what`` (and the process log) on timeout or exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            if check():
                return
        except Exception:  # not listening yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready within {timeout}s" + (f":\n{proc.tail()}" if proc else ""))
