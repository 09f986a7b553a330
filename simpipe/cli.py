"""Command line: ``simpipe run | status | report | baselines | compare | model build | example build``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from .errors import SimpipeError

REPO = Path(__file__).resolve().parents[1]


class ProgressBar:
    """A one-line text progress bar on stderr."""

    def __init__(self, stream=sys.stderr, width: int = 30):
        self.stream, self.width, self.start = stream, width, time.perf_counter()

    def __call__(self, done: int, total: int, label: str, status: str) -> None:
        frac = done / total if total else 1.0
        bar = "#" * int(frac * self.width)
        elapsed = time.perf_counter() - self.start
        tail = f"{label} {status}"[:40]
        self.stream.write(f"\r[{bar:<{self.width}}] {done}/{total} {elapsed:6.1f}s {tail:<40}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _cmd_run(args) -> int:
    from .run.study import run_study
    from .run.summary import format_table

    res = run_study(args.config, progress=ProgressBar(), n_workers=args.workers)
    print(format_table(res.rows))
    n = len(res.plan.tasks)
    print(f"\n{len(res.outcome.computed)} task(s) computed, {len(res.outcome.cached)} from cache, "
          f"{len(res.outcome.failed)} failed, of {n}; wall time {res.wall_s:.1f} s")
    for stage, secs in res.seconds_by_stage.items():
        print(f"  {stage:<11} {secs:7.1f} s of task time")
    print(f"results: {res.results_path}\nsummary: {res.summary_path}")
    try:
        from .report import write_report

        print(f"report:  {write_report(res.results_path.parent)}")
    except Exception as exc:  # results are safe on disk; a report problem must not fail the run
        logging.getLogger(__name__).warning("report not written: %s", exc)
    code = 0
    if "baselines" in res.study.stages:
        print("\nstage 'baselines': the simulated baseline family (simpipe baselines)")
        code = _cmd_baselines(argparse.Namespace(config=args.config, workers=args.workers, solve_only=False))
    if res.outcome.failed:
        for task in res.plan.tasks:
            if task.key in res.outcome.failed:
                print(f"FAILED {task.label}: {res.outcome.failed[task.key]}", file=sys.stderr)
        return 1
    if code:
        return code
    if args.strict:
        from .analysis.quality import Thresholds, failed_checks

        failed = failed_checks(res.rows, Thresholds.from_config(res.study.qc))
        for line in failed:
            print(f"simpipe: error: quality check failed (--strict): {line}", file=sys.stderr)
        return 1 if failed else 0
    return 0


def _cmd_baselines(args) -> int:
    from .baselines.run import CSV_COLUMNS, run_baselines

    res = run_baselines(args.config, progress=ProgressBar(), n_workers=args.workers,
                        analyse=not args.solve_only)
    shown = ["subject", "trial", "rf_stiffness", "success", "iterations", "wall_s", "warm",
             "peak_vertical_grf_bw", "thomas_knee90_deg"]
    print("  ".join(f"{c:>14}" for c in shown))
    for row in res.rows:
        print("  ".join(f"{row[c]:>14.4g}" if isinstance(row[c], float) else f"{str(row[c]):>14}"
                        for c in shown))
    solved, cached = len(res.outcome.computed), len(res.outcome.cached)
    print(f"\n{solved} simulation(s) solved, {cached} from cache, {len(res.outcome.failed)} failed; "
          f"wall time {res.wall_s:.1f} s")
    print(f"family:  {res.folder / 'baselines.csv'}  ({len(CSV_COLUMNS)} columns)")
    if res.analysis is not None:
        from .run.summary import format_table

        print(format_table(res.analysis.rows))
        print(f"results: {res.analysis.results_path}\nsummary: {res.analysis.summary_path}")
        try:
            from .report import write_report

            print(f"report:  {write_report(res.analysis.results_path.parent)}")
        except Exception as exc:  # results are safe on disk
            logging.getLogger(__name__).warning("report not written: %s", exc)
    not_converged = [r for r in res.rows if not r["success"]]
    for row in not_converged:
        print(f"NOT CONVERGED {row['subject']}/{row['trial']}: {row['status']}", file=sys.stderr)
    return 1 if res.outcome.failed or not_converged else 0


def _cmd_status(args) -> int:
    from .config import load_study
    from .run.status import format_status, study_status

    out = args.out
    if out.is_file():
        out = load_study(out, check_files=False)[0].output
    status = study_status(out)
    print(format_status(status))
    if status.failures:
        return 1
    return 0 if status.complete else 3


def _cmd_report(args) -> int:
    from .config import load_study
    from .report import write_report

    out = args.out
    if out.is_file():
        out = load_study(out, check_files=False)[0].output
    print(f"report: {write_report(out)}")
    return 0


def _output_folder(path: Path) -> Path:
    """A study's output folder, given the folder or the study's YAML file."""
    from .config import load_study

    return load_study(path, check_files=False)[0].output if path.is_file() else path


def _cmd_compare(args) -> int:
    from .analysis.compare import MAX_RMS_Z, compare_outputs, format_comparison, write_compare_csv, \
        write_compare_json
    from .report.compare_figure import write_compare_figures

    athlete, baselines = _output_folder(args.athlete), _output_folder(args.baselines)
    features = [f for item in args.features or [] for f in item.split(",") if f] or None
    cmp = compare_outputs(athlete, baselines, features,
                          max_rms_z=MAX_RMS_Z if args.max_rms_z is None else args.max_rms_z)
    out = args.out if args.out is not None else athlete / "compare"
    out.mkdir(parents=True, exist_ok=True)
    print(format_comparison(cmp))
    print(f"\ntable:   {write_compare_csv(cmp, out / 'compare.csv')}")
    print(f"json:    {write_compare_json(cmp, out / 'compare.json')}")
    written = write_compare_figures(cmp, athlete, baselines, out)
    for path in written:
        print(f"{'figure:' if path.suffix in ('.png', '.svg') else 'curves:'}  {path}")
    if not any(p.name.startswith("compare_curves") for p in written):
        print("no curves over stance: results.h5 with kinematics and moments is missing in one of the outputs")
    return 0


def _cmd_model_build(args) -> int:
    from .model.builder import build_model

    out = Path(args.out) if args.out else REPO / "models" / f"{args.name}.osim"
    path = build_model(out, name=args.name)
    print(f"wrote {path}")
    return 0


def _cmd_example_build(args) -> int:
    out = Path(args.out) if args.out else REPO / "data" / "example" / "subject01"
    model = Path(args.model) if args.model else REPO / "models" / "simpipe_run2d.osim"
    if args.prescribed:
        from .example.generate import build_example

        build_example(out, model, noise_mm=args.noise_mm)
        print(f"wrote the prescribed-kinematics example subject to {out}")
        return 0
    from .example.simbuild import FAST_CHAIN, FULL_CHAIN, MUSCLE_CHAIN, build_simulated_example

    if (args.fast or args.muscles) and not args.out:
        print("simpipe example build --fast/--muscles: give --out DIR (data/example/subject01 is the "
              "torque-driven full build)", file=sys.stderr)
        return 2
    chain = FAST_CHAIN if args.fast else MUSCLE_CHAIN if args.muscles else FULL_CHAIN
    # the committed solutions are the cache of the full and muscle chains
    solutions = None if args.fast else REPO / "data" / "example" / "subject01" / "simulation"
    from .example.musclereference import REFERENCE_OPTIONS

    summary = build_simulated_example(out, model, noise_mm=args.noise_mm, chain=chain,
                                      resolve=args.resolve, progress=lambda m: print(m, flush=True),
                                      solutions_dir=solutions,
                                      reference=REFERENCE_OPTIONS if chain is FULL_CHAIN else None)
    print(f"\nwrote example subject to {out}")
    print(f"{'trial':8s} {'solve':28s} {'peak GRF (BW)':>14s} {'flight GRF max (N)':>19s} "
          f"{'pelvis residual RMS (N)':>24s}")
    for name, res in summary["trials"].items():
        q, last = res["quality"], res["solves"][-1]
        print(f"{name:8s} {last['status'] + ', ' + str(last['iterations']) + ' it':28s} "
              f"{q['peak_vertical_grf_bw']:14.2f} {q['max_flight_vertical_grf_n']:19.3f} "
              f"{q['pelvis_residual_force_rms_n']:24.1f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simpipe", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run (or resume) a study")
    run.add_argument("config", type=Path, help="study YAML file")
    run.add_argument("--workers", type=int, default=None, help="override cluster.n_workers")
    run.add_argument("--strict", action="store_true",
                     help="a failed quality check (marker errors, residuals; config block 'qc') is an error")
    run.set_defaults(func=_cmd_run)
    status = sub.add_parser("status", help="done, failed and pending tasks of a study",
                            description="Exit status: 0 all done, 1 some failed, 3 some pending.")
    status.add_argument("out", type=Path, help="the study's output folder (or its YAML file)")
    status.set_defaults(func=_cmd_status)
    report = sub.add_parser("report", help="write <out>/report/report.html (figures, quality, provenance)")
    report.add_argument("out", type=Path, help="the study's output folder (or its YAML file)")
    report.set_defaults(func=_cmd_report)
    base = sub.add_parser("baselines", help="solve the simulated baseline family of a study (Moco) and "
                                             "analyse it like lab data")
    base.add_argument("config", type=Path, help="the study file (its baselines, sweep, stages, cluster)")
    base.add_argument("--workers", type=int, default=None, help="override cluster.n_workers (local)")
    base.add_argument("--solve-only", action="store_true", help="solve and write the trials; no analysis")
    base.set_defaults(func=_cmd_baselines)
    compare = sub.add_parser("compare", help="place athlete trials on the stiffness axis of a baseline family",
                             description="Writes compare.csv, compare.json and figures into --out "
                                         "(default <athlete_out>/compare).")
    compare.add_argument("athlete", type=Path, help="the athletes' study output folder (or its YAML file)")
    compare.add_argument("baselines", type=Path, help="the baseline family's output folder (or its YAML file)")
    compare.add_argument("--out", type=Path, default=None, help="output folder (default <athlete>/compare)")
    compare.add_argument("--features", nargs="+", default=None, metavar="COLUMN",
                         help="summary columns to compare (default: peak hip extension, anterior pelvic tilt, "
                              "lumbar extension, glute and plantar-flexor shares)")
    compare.add_argument("--max-rms-z", type=float, default=None,
                         help="a trial further than this from the whole family (RMS standardized units "
                              "per feature) is reported as off the family (default 3)")
    compare.set_defaults(func=_cmd_compare)
    model = sub.add_parser("model", help="built-in models")
    msub = model.add_subparsers(dest="action", required=True)
    build = msub.add_parser("build", help="generate the built-in model .osim")
    build.add_argument("--name", default="simpipe_run2d")
    build.add_argument("--out", default=None, help="output .osim (default models/<name>.osim)")
    build.set_defaults(func=_cmd_model_build)
    example = sub.add_parser("example", help="the example subject")
    esub = example.add_subparsers(dest="action", required=True)
    ebuild = esub.add_parser("build", help="generate the example subject's trials")
    ebuild.add_argument("--out", default=None, help="folder (default data/example/subject01)")
    ebuild.add_argument("--model", default=None, help="generic model (default the built-in one)")
    ebuild.add_argument("--fast", action="store_true",
                        help="one coarse torque-driven solve per trial (minutes; needs --out)")
    ebuild.add_argument("--muscles", action="store_true",
                        help="the muscle-driven example (cached solutions; needs --out)")
    ebuild.add_argument("--resolve", action="store_true",
                        help="solve again even where cached solutions (simulation/*.json) match")
    ebuild.add_argument("--noise-mm", type=float, default=0.0, help="marker noise (mm per axis)")
    ebuild.add_argument("--prescribed", action="store_true",
                        help="the older prescribed-kinematics example (no simulation)")
    ebuild.set_defaults(func=_cmd_example_build)
    return parser


class Terminated(Exception):
    """SIGTERM arrived (``kill``, SLURM's ``scancel`` or its walltime)."""


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``simpipe`` command.

    SIGTERM unwinds like Ctrl-C: the Dask cluster is closed on the way out,
    so no worker process goes on with a task nobody will collect (a worker
    busy in a long solve would otherwise finish it first), and the exit
    status is 143.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    try:
        return args.func(args)
    except SimpipeError as exc:
        print(f"simpipe: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("simpipe: interrupted; finished tasks are cached, rerun to resume", file=sys.stderr)
        return 130
    except Terminated:
        print("simpipe: terminated; finished tasks are cached, rerun to resume", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
