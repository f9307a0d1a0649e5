"""Wall time and peak resident memory of one phase of a command (training, then scoring).

The peak is the phase's own on Linux: the kernel's high-water mark (VmHWM) is reset to the current
resident size before the phase (`/proc/self/clear_refs`, "5") and read after it. Where that is not
available the peak is the process's so far (`getrusage`), which includes every earlier phase, and
`Phase.of_process` says so.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Phase:
    seconds: float = 0.0
    peak_mb: float = 0.0
    of_process: bool = False  # the peak is the process's so far, not the phase's own

    def __str__(self) -> str:
        whose = " (the process so far)" if self.of_process else ""
        return f"{self.seconds:.1f} s, peak memory {self.peak_mb:.0f} MB{whose}"


@contextmanager
def phase() -> Iterator[Phase]:
    measured = Phase(of_process=not _reset_peak())
    started = time.monotonic()
    try:
        yield measured
    finally:
        measured.seconds = time.monotonic() - started
        measured.peak_mb = _peak_kb(process=measured.of_process) / 1024


def _reset_peak() -> bool:
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_kb(*, process: bool) -> float:
    if not process:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux
