"""Shared helpers of the benchmark scripts: data, timing, machine, output.

Every script measures simpipe and its comparison route in the same process
run, on the same data and machine, and prints ratios (simpipe / other).
Times are medians of interleaved repeats (A, B, A, B, ...), so slow drifts of
the machine hit both routes alike.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
COMMITTED_EXAMPLE = REPO / "data" / "example" / "subject01"
MODEL_2D = REPO / "models" / "simpipe_run2d.osim"
FEET = {"r": "calcn_r", "l": "calcn_l"}
_EXAMPLE_FILES = ("static.trc", "run_01.trc", "run_01_grf.mot", "run_02.trc", "run_02_grf.mot",
                  "model_true.osim")

if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """One line: CPU model, cores usable by this process, Python and OpenSim versions."""
    import opensim

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{cpu_model()}, {cores} cores usable ({os.cpu_count()} online); Python "
            f"{platform.python_version()}; opensim {opensim.__version__}")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other processes skew timings)."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def header(title: str) -> None:
    """Print the script's title, the date, the machine and its load."""
    print(f"== {title}")
    print(f"   {datetime.datetime.now().isoformat(timespec='seconds')}; {machine()}; "
          f"load average {load_average()}", flush=True)


def example_dir(scratch: Path) -> Path:
    """The example subject: ``$SIMPIPE_EXAMPLE_DIR``, else the committed one, else built.

    Parameters
    ----------
    scratch : Path
        Folder for a freshly built copy (``simpipe example build`` takes ~10 s)
        when neither ``$SIMPIPE_EXAMPLE_DIR`` nor ``data/example/subject01``
        holds a complete example.
    """
    for candidate in (os.environ.get("SIMPIPE_EXAMPLE_DIR"), COMMITTED_EXAMPLE):
        if candidate and all((Path(candidate) / f).is_file() for f in _EXAMPLE_FILES):
            return Path(candidate)
    from simpipe.example.generate import build_example

    out = scratch / "subject01"
    if not all((out / f).is_file() for f in _EXAMPLE_FILES):
        print(f"   (data/example/subject01 is incomplete: building the example into {out})", flush=True)
        build_example(out, seed=0, noise_mm=0)
    return out


@contextlib.contextmanager
def quiet_stdout():
    """Send the C++ side's stdout to /dev/null (OpenSim tools print model summaries)."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    """Wall time of one call and its value."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def interleaved(routes: dict[str, Callable[[], object]], repeats: int) -> tuple[dict, dict, dict]:
    """Time each route ``repeats`` times, alternating routes.

    Returns
    -------
    wall : dict
        Route -> list of wall-clock seconds.
    cpu : dict
        Route -> list of CPU seconds of this process (all its threads). For
        single-threaded work in this process it is what the route costs, and
        it hardly moves when other processes compete for the cores.
    values : dict
        Route -> value of its last call.
    """
    wall = {name: [] for name in routes}
    cpu = {name: [] for name in routes}
    values = {}
    for _ in range(repeats):
        for name, fn in routes.items():
            c0 = time.process_time()
            secs, values[name] = timed(fn)
            cpu[name].append(time.process_time() - c0)
            wall[name].append(secs)
    return wall, cpu, values


def median(values) -> float:
    return float(statistics.median(values))


def spread(values) -> str:
    """'median s (min-max)' of a list of seconds."""
    return f"{median(values):.3f} s ({min(values):.3f}-{max(values):.3f}, n={len(values)})"


def ratio_line(label: str, ours: float, theirs: float, target: str | None = None, ok: bool | None = None,
               cpu: tuple[float, float] | None = None) -> str:
    """One result line: ``RATIO label: x.xx (ours / theirs) [cpu ...] target ... [met]``.

    ``ok`` is the caller's verdict (the target says on which time); ``cpu``
    adds the same ratio of CPU seconds (ours, theirs).
    """
    text = f"RATIO {label}: {ours / theirs:.3f}  ({ours:.3f} s / {theirs:.3f} s wall)"
    if cpu is not None:
        text += f"; CPU time {cpu[0] / cpu[1]:.3f} ({cpu[0]:.3f} s / {cpu[1]:.3f} s)"
    if target is not None:
        verdict = "" if ok is None else ("  [met]" if ok else "  [NOT met]")
        text += f"  target {target}{verdict}"
    return text


def parse_workers(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (sorted, unique, each >= 1)."""
    counts = sorted({int(x) for x in text.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"worker counts must be integers >= 1, got {text!r}")
    return counts


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory:
    """A temporary folder for one script's files (removed at exit)."""
    return tempfile.TemporaryDirectory(prefix=f"simpipe-bench-{prefix}-")


def warm_cluster(client) -> float:
    """Import simpipe's stages and OpenSim on every worker; returns seconds taken."""
    def _imports():
        import simpipe.stages.ik  # noqa: F401
        import simpipe.stages.id  # noqa: F401
        from simpipe.stages.osimutil import opensim

        opensim()
        return os.getpid()

    start = time.perf_counter()
    client.run(_imports)
    return time.perf_counter() - start
