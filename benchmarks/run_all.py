"""Run every benchmark, one after the other, and optionally record RESULTS.md.

Usage::

    python benchmarks/run_all.py [--record] [--wait-quiet 0.5] [--only bench_sweep ...]

Each script runs in its own Python process (a fresh OpenSim and Dask each) and
prints ratios measured within that run, on the same data and machine. The
example subject is taken from ``data/example/subject01`` or built once into
a temporary folder and shared through ``$SIMPIPE_EXAMPLE_DIR``. With
``--record`` the outputs are written to ``benchmarks/RESULTS.md`` with the
date, the machine, the code version and this exact command.

The whole run takes under 15 minutes on 2 cores. Other processes on the
machine inflate the times (the parallel figures most): ``--wait-quiet L``
waits, before each script, until the 1-minute load average is below ``L``
(at most ``--max-wait`` seconds), and the load is recorded either way.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as C

#: The scripts run_all runs (about 13 minutes on 2 cores). bench_baselines.py (~9 min: four Moco
#: running simulations, twice) and bench_muscles.py are run on their own.
SCRIPTS = ["bench_ik_id", "bench_sweep", "bench_dask", "bench_quickstart", "bench_muscles_warmstart",
           "bench_efficiency"]
KEYS = ("RATIO", "JOIN", "CHUNK", "REUSE", "EFFICIENCY", "OVERHEAD", "MEMORY", "QUICKSTART", "WARMSTART")
BUDGET_S = 900


def available(names: list[str]) -> list[str]:
    """The scripts of ``names`` that exist."""
    return [n for n in names if (C.BENCH / f"{n}.py").is_file()]


def wait_quiet(limit: float | None, max_wait: float) -> float:
    """Wait until the 1-minute load average drops below ``limit``; returns seconds waited."""
    if limit is None:
        return 0.0
    start = time.monotonic()
    while os.getloadavg()[0] >= limit and time.monotonic() - start < max_wait:
        time.sleep(5)
    waited = time.monotonic() - start
    print(f"   (load average {C.load_average()} after waiting {waited:.0f} s)", flush=True)
    return waited


def run_script(name: str, env: dict) -> tuple[float, int, list[str]]:
    """Run one benchmark script, echoing its output; returns (seconds, exit code, lines)."""
    cmd = [sys.executable, str(C.BENCH / f"{name}.py")]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=C.REPO)
    lines = []
    for line in proc.stdout:
        if _noise(line):
            continue
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line.rstrip("\n"))
    code = proc.wait()
    return time.perf_counter() - start, code, lines


def _noise(line: str) -> bool:
    """Warnings of distributed that say nothing about the measurement."""
    return any(s in line for s in ("Port 8787 is already in use", "Perhaps you already have a cluster",
                                   "Hosting the HTTP server on port", "warnings.warn("))


def git_state() -> str:
    """Commit and whether the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=C.REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "simpipe")
    return head + (" + uncommitted changes in simpipe/" if dirty else "")


def write_results(path: Path, command: str, started: str, load_start: str, runs: dict, total: float,
                  note: str | None = None) -> None:
    """RESULTS.md: where and how, the key lines, then every script's full output."""
    key_lines = [ln for _, _, lines in runs.values() for ln in lines if ln.startswith(KEYS)]
    out = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run_all.py --record`; do not edit by hand (rerun it).",
        "Ratios are simpipe / other route, measured in the same run on the same data",
        "and machine; below 1 means simpipe is faster. See each script's docstring",
        "for exactly what is timed.",
        "",
        f"- Date: {started}",
        f"- Machine: {C.machine()}",
        f"- Load average (1/5/15 min) when run_all started: {load_start}; at its end: {C.load_average()} "
        "(each script's header gives the load it started with)",
        f"- Code: simpipe at {git_state()}; imported from {_simpipe_location()}",
        *([f"- Note: {note}"] if note else []),
        f"- Command: `{command}` (from the repository root)",
        f"- Total wall time of the scripts: {total:.0f} s (budget {BUDGET_S} s on 2 cores)",
        "",
        "## Key figures",
        "",
        "```",
        *key_lines,
        "```",
        "",
        "## Full output",
        "",
    ]
    for name, (secs, code, lines) in runs.items():
        out += [f"### {name}.py ({secs:.0f} s, exit code {code})", "", "```", *lines, "```", ""]
    path.write_text("\n".join(out))


def _simpipe_location() -> str:
    """Where the scripts import simpipe from (``$PYTHONPATH`` can point at another tree)."""
    import simpipe

    return str(Path(simpipe.__file__).parent.parent)


def example_env(scratch: Path) -> dict:
    """The environment of the scripts, with the example subject located or built once."""
    env = dict(os.environ)
    env["SIMPIPE_EXAMPLE_DIR"] = str(C.example_dir(scratch))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(C.BENCH), env.get("PYTHONPATH")) if p)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    parser.add_argument("--wait-quiet", type=float, default=None, metavar="LOAD")
    parser.add_argument("--max-wait", type=float, default=600.0, metavar="SECONDS")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, default=SCRIPTS)
    parser.add_argument("--note", default=None, help="a line recorded in RESULTS.md (e.g. what the tree holds)")
    args = parser.parse_args()
    command = "python benchmarks/run_all.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    started = datetime.datetime.now().isoformat(timespec="seconds")
    load_start = C.load_average()
    missing = [n for n in args.only if n not in available(args.only)]
    if missing:
        print(f"not run (script absent): {', '.join(missing)}")
    runs = {}
    waited = 0.0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="simpipe-bench-example-") as tmp:
        env = example_env(Path(tmp))
        for name in available(args.only):
            waited += wait_quiet(args.wait_quiet, args.max_wait)
            runs[name] = run_script(name, env)
    total = time.perf_counter() - start - waited
    failed = [n for n, (_, code, _) in runs.items() if code != 0]
    print(f"== all benchmarks: {total:.0f} s (budget {BUDGET_S} s; {waited:.0f} s waiting for a quiet "
          f"machine not counted); failed: {failed or 'none'}")
    if args.record:
        write_results(C.BENCH / "RESULTS.md", command, started, load_start, runs, total, args.note)
        print(f"recorded {C.BENCH / 'RESULTS.md'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
