"""Simulated baselines: time per solve cold and warm-started, and the family on 1 vs 2 workers.

A family of two tracking weights x two RF stiffnesses (1x, 2x) is solved
(``simpipe baselines --solve-only``) twice from an empty cache, on one and on
two local workers. Within a weight the 2x point warm-starts from the 1x one,
so the weights are two chains of two tasks each; two workers can run the two
chains side by side. Printed: per point its iterations and solve time, the
warm/cold ratios, and the family's wall time on 2 workers over 1.

Usage: ``python benchmarks/bench_baselines.py``
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simpipe.baselines.run import run_baselines  # noqa: E402


def family_config(folder: Path, workers: int) -> Path:
    ex = REPO / "data" / "example" / "subject01"
    cfg = {"name": "bench_baselines", "model": {"builtin": "simpipe_run2d"},
           "subjects": [{"id": "s", "mass_kg": 72.0, "height_m": 1.78, "static": str(ex / "static.trc"),
                         "trials": [{"id": "run_01", "markers": str(ex / "run_01.trc"),
                                     "grf": str(ex / "run_01_grf.mot")}]}],
           "sweep": {"muscles": ["rectus_femoris"], "property": "passive_fiber_strain_at_one_norm_force",
                     "values": [0.6, 0.3]},
           "baselines": {"tracking_weights": [20.0, 2.0]},
           "output": str(folder / "out"), "cluster": {"kind": "local", "n_workers": workers}}
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def main() -> int:
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="simpipe-bench-baselines-") as tmp:
            start = time.perf_counter()
            res = run_baselines(family_config(Path(tmp), workers), analyse=False)
            walls[workers] = time.perf_counter() - start
            print(f"{workers} worker(s): family of {len(res.rows)} solves in {walls[workers]:.1f} s")
            for r in res.rows:
                print(f"  {r['subject']:>14} {r['variant']}  {'warm' if r['warm'] else 'cold'}  "
                      f"{r['status']:<18} {r['iterations']:>4} iterations  {r['wall_s']:6.1f} s")
            if workers == 1:
                cold = [r for r in res.rows if not r["warm"]]
                warm = [r for r in res.rows if r["warm"]]
                it_c = sum(r["iterations"] for r in cold) / len(cold)
                it_w = sum(r["iterations"] for r in warm) / len(warm)
                t_c = sum(r["wall_s"] for r in cold) / len(cold)
                t_w = sum(r["wall_s"] for r in warm) / len(warm)
                print(f"RATIO warm/cold (mean per solve; the warm ones are the stiff points): "
                      f"iterations {it_w / it_c:.2f}, time {t_w / t_c:.2f}")
    print(f"RATIO family wall time 2 workers / 1 worker: {walls[2] / walls[1]:.2f} "
          "(ideal 0.5: two independent chains)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
