"""The example subject built from Moco simulations (simpipe.example.simbuild).

The committed example (data/example/subject01) comes from the full build
(torque-driven, mesh refined 15 -> 40 -> 80 intervals; about 15 min on 2
cores). Its solutions, and those of the muscle-driven chain (about an hour
more), are committed under ``simulation/``, so a rebuild here only rewrites
the files from them (seconds) and must reproduce the committed files; the
physics of the committed trials is checked against the issue's criteria
(inverse dynamics on them: tests/test_pipeline.py). The fast build (one
coarse torque-driven solve, about 3 min) runs in full; the full build from
scratch is marked slow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from simpipe.errors import StageError
from simpipe.example import generate as gen
from simpipe.example import musclereference as R
from simpipe.example import simbuild as B
from simpipe.example import simulate as S
from simpipe.io.grf import read_grf
from simpipe.io.trc import read_trc

from conftest import EXAMPLE, MODEL

TRIALS = [t.name for t in gen.TRIALS]
#: RMS reserve of a muscle-spanned joint in the muscle reference, / its peak net moment.
RESERVE_LIMIT = 0.1
TEXT_FILES = ["README.md", "static.trc", "model_true.osim"] + [
    f"{t}{suffix}" for t in TRIALS for suffix in (".trc", "_grf.mot", "_external_loads.xml")]


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"missing {path}; run `simpipe example build`")


def _no_solving(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the build solved although the cached solutions match")
    monkeypatch.setattr(S, "simulate_running", refuse)
    monkeypatch.setattr(R, "_solve", refuse)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """The full build into a temporary folder, from the committed solutions (no solve)."""
    _need(EXAMPLE / "simulation")
    out = tmp_path_factory.mktemp("example") / "subject01"
    shutil.copytree(EXAMPLE / "simulation", out / "simulation")
    with pytest.MonkeyPatch.context() as mp:
        _no_solving(mp)
        summary = B.build_simulated_example(out, MODEL)
    return out, summary


def _truth(folder: Path, trial: str) -> dict:
    with h5py.File(folder / "ground_truth.h5", "r") as f:
        g = f["trials"][trial]
        out = {k: g[k][()] for k in ("time", "q", "u", "udot", "generalized_forces", "markers",
                                     "grf_time", "activation", "muscle_force")}
        out["coordinates"] = [c.decode() for c in g["coordinates"][()]]
        out["marker_names"] = [c.decode() for c in g["marker_names"][()]]
        out["muscles"] = [c.decode() for c in g["muscles"][()]]
        out["events"] = {k: g["events"][k][()] for k in g["events"]}
        out["contact"] = {s: {k: g["contact"][s][k][()] for k in g["contact"][s]} for s in g["contact"]}
        out["solve"] = json.loads(g.attrs["solve"])
        out["quality"] = {k[len("quality_"):]: float(v) for k, v in g.attrs.items()
                          if k.startswith("quality_")}
        out["mass"] = float(f.attrs["mass_kg"])
    return out


# --- the committed example is what its solutions give ------------------------------

def _same_lines(new: str, old: str, rtol: float = 1e-7) -> str | None:
    new_lines, old_lines = new.splitlines(), old.splitlines()
    if len(new_lines) != len(old_lines):
        return f"{len(new_lines)} lines instead of {len(old_lines)}"
    for i, (a, b) in enumerate(zip(new_lines, old_lines)):
        if a == b:
            continue
        ta, tb = a.split("\t"), b.split("\t")
        try:
            same = len(ta) == len(tb) and np.allclose(
                [float(x or "nan") for x in ta], [float(x or "nan") for x in tb],
                rtol=rtol, atol=1e-7, equal_nan=True)
        except ValueError:
            same = False
        if not same:
            return f"line {i + 1}: {a[:80]!r} != {b[:80]!r}"
    return None


@pytest.mark.parametrize("name", TEXT_FILES)
def test_committed_files_are_rewritten_from_the_committed_solutions(rebuilt, name):
    out, _ = rebuilt
    _need(EXAMPLE / name)
    problem = _same_lines((out / name).read_text(), (EXAMPLE / name).read_text())
    assert problem is None, f"{name} differs from a rebuild ({problem}); run `simpipe example build`"


def test_committed_truth_is_rewritten(rebuilt):
    out, _ = rebuilt
    with (h5py.File(out / "ground_truth.h5", "r") as new,
          h5py.File(EXAMPLE / "ground_truth.h5", "r") as old):
        names, old_names = [], []
        new.visit(names.append)
        old.visit(old_names.append)
        assert names == old_names
        for name in names:
            if isinstance(new[name], h5py.Dataset):
                a, b = new[name][()], old[name][()]
                if a.dtype.kind == "S":
                    assert list(a) == list(b), name
                else:
                    scale = max(float(np.nanmax(np.abs(b), initial=0.0)), 1e-300)
                    assert np.allclose(a, b, rtol=1e-6, atol=1e-7 * scale, equal_nan=True), name


# --- physics of the committed trials ----------------------------------------------

@pytest.mark.parametrize("chain", ["full", "muscles"])
@pytest.mark.parametrize("trial", TRIALS)
def test_every_solve_of_the_chain_converged(trial, chain):
    _need(EXAMPLE / "simulation")
    for step in B.FULL_CHAIN if chain == "full" else B.MUSCLE_CHAIN:
        record = json.loads((EXAMPLE / "simulation" / f"{trial}_{step.name}.json").read_text())
        assert record["success"], (step.name, record["status"])
        assert record["settings"] == json.loads(json.dumps(B.settings_record(step.settings)))


@pytest.mark.parametrize("trial", TRIALS)
def test_half_cycle_is_symmetric_and_at_the_trial_speed(trial):
    _need(EXAMPLE / "simulation")
    spec = next(t for t in gen.TRIALS if t.name == trial)
    half = S.read_solution(EXAMPLE / "simulation" / f"{trial}_{B.FULL_CHAIN[-1].name}.sto")
    for i, name in enumerate(half.state_names):
        if not name.endswith("pelvis_tx/value"):
            j = half.state_names.index(S.mirror_name(name))
            assert abs(half.states[-1, i] - half.states[0, j]) < 1e-3, name
    tx = half.column("/jointset/ground_pelvis/pelvis_tx/value")
    assert (tx[-1] - tx[0]) / (half.time[-1] - half.time[0]) == pytest.approx(spec.speed, rel=1e-3)
    assert half.time[-1] - half.time[0] == pytest.approx(spec.cycle_time / 2)


@pytest.mark.parametrize("trial", TRIALS)
def test_flight_has_no_force_and_stance_peaks_at_two_to_three_body_weights(trial):
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, trial)
    weight = truth["mass"] * 9.80665
    fy = {s: truth["contact"][s]["force"][:, 1] for s in ("r", "l")}
    total = fy["r"] + fy["l"]
    rate = 1.0 / float(np.median(np.diff(truth["grf_time"])))
    flight = B.flight_frames(total, rate)
    assert flight.mean() > 0.15                                     # two flights per cycle
    assert np.abs(total[flight]).max() < 1.0
    for side in fy:
        assert 2.0 <= fy[side].max() / weight <= 3.0, fy[side].max() / weight
    # the same force is what the .mot holds
    grf = read_grf(EXAMPLE / f"{trial}_grf.mot")
    np.testing.assert_allclose(grf.column("r_ground_force_vy"), fy["r"], atol=1e-6)
    print(f"{trial}: peak {max(f.max() for f in fy.values()) / weight:.2f} BW, flight max "
          f"{np.abs(total[flight]).max():.3f} N")


@pytest.mark.parametrize("trial", TRIALS)
def test_one_stance_per_foot_per_cycle(trial):
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, trial)
    spec = next(t for t in gen.TRIALS if t.name == trial)
    strikes, offs = truth["events"]["foot_strike_r"], truth["events"]["toe_off_r"]
    assert len(strikes) >= 1 and len(offs) >= 1
    if len(strikes) > 1:
        assert np.diff(strikes) == pytest.approx(spec.cycle_time, abs=2e-3)
    stance = (offs[offs > strikes[0]][0] - strikes[0]) / spec.cycle_time
    assert 0.25 < stance < 0.45


@pytest.mark.parametrize("trial", TRIALS)
def test_vertical_impulse_over_a_cycle_balances_weight(trial):
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, trial)
    spec = next(t for t in gen.TRIALS if t.name == trial)
    t = truth["grf_time"]
    fy = truth["contact"]["r"]["force"][:, 1] + truth["contact"]["l"]["force"][:, 1]
    one = (t >= t[0]) & (t < t[0] + spec.cycle_time)
    weight = truth["mass"] * 9.80665
    imbalance = np.sum(fy[one] - weight) * (t[1] - t[0]) / (weight * spec.cycle_time)
    assert abs(imbalance) < 0.01


@pytest.mark.parametrize("trial", TRIALS)
def test_truth_is_consistent_and_markers_are_the_model_markers(trial):
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, trial)
    tau = dict(zip(truth["coordinates"], truth["generalized_forces"].T))
    # at the exact state and the model's own accelerations the GRF balances the body
    assert np.abs(tau["pelvis_tx"]).max() < 1e-3 and np.abs(tau["pelvis_ty"]).max() < 1e-3
    # (< 0.1 N m: in flight the feet's tiny forces are applied at the last centre of pressure)
    assert np.abs(tau["pelvis_tilt"]).max() < 0.1
    markers = read_trc(EXAMPLE / f"{trial}.trc")
    assert np.allclose(markers.time, truth["time"])
    probe = gen._Probe(EXAMPLE / "model_true.osim")
    for k in range(0, len(truth["time"]), 9):
        probe.pose(dict(zip(truth["coordinates"], truth["q"][k])))
        assert np.abs(markers.xyz[k] - probe.markers()).max() < 1e-4


@pytest.mark.parametrize("trial", TRIALS)
def test_written_files_are_dynamically_consistent(trial):
    """ID of the files' exact coordinates (quintic spline, no filter): pelvis residual force < 10 N RMS."""
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, trial)
    from simpipe.stages.id import Kinematics

    kin = Kinematics(truth["time"], truth["coordinates"], truth["q"], truth["u"], truth["udot"])
    got = B.consistency(EXAMPLE / "model_true.osim", kin, EXAMPLE / f"{trial}_grf.mot")
    print(trial, got)
    assert got["pelvis_residual_force_rms_n"] < 10.0
    assert got["pelvis_residual_force_rms_n"] == pytest.approx(
        truth["quality"]["pelvis_residual_force_rms_n"], rel=1e-6)


@pytest.fixture(scope="module")
def muscle_built(tmp_path_factory):
    """The muscle-driven example, rewritten from the committed solutions (no solve)."""
    _need(EXAMPLE / "simulation" / "run_01_muscles.sto")
    out = tmp_path_factory.mktemp("muscles") / "subject01"
    with pytest.MonkeyPatch.context() as mp:
        _no_solving(mp)
        summary = B.build_simulated_example(out, MODEL, chain=B.MUSCLE_CHAIN,
                                            solutions_dir=EXAMPLE / "simulation", reference=None)
    return out, summary


@pytest.mark.parametrize("trial", TRIALS)
def test_muscle_driven_example_has_muscle_states_and_contact_physics(muscle_built, trial):
    out, summary = muscle_built
    truth = _truth(out, trial)
    q = summary["trials"][trial]["quality"]
    print(trial, "muscle-driven:", {k: round(v, 3) for k, v in q.items()})
    assert 2.0 <= q["peak_vertical_grf_bw"] <= 3.0 and q["max_flight_vertical_grf_n"] < 1.0
    assert len(truth["muscles"]) == 18
    assert truth["activation"].shape == (len(truth["time"]), 18)
    # bounds 0.01-1 hold at the mesh points; the spline between them dips a little
    assert truth["activation"].min() >= 0.005 and truth["activation"].max() <= 1.0 + 1e-6
    force = dict(zip(truth["muscles"], truth["muscle_force"].T))
    at = np.searchsorted(truth["grf_time"], truth["time"] - 1e-9).clip(max=len(truth["grf_time"]) - 1)
    loaded = truth["contact"]["r"]["force"][at, 1] > 500.0
    assert loaded.any()
    assert force["soleus_r"][loaded].max() > 1000.0       # the plantar flexors carry the body
    # consistent except around foot strike and toe-off (see simbuild's notes)
    assert q["pelvis_residual_force_rms_n"] < 30.0


def test_torque_driven_example_has_no_muscle_states():
    _need(EXAMPLE / "ground_truth.h5")
    truth = _truth(EXAMPLE, "run_01")
    assert truth["muscles"] == [] and truth["activation"].size == 0


# --- the muscle reference ------------------------------------------------------------

def _reference(folder: Path, trial: str) -> dict:
    with h5py.File(folder / "ground_truth.h5", "r") as f:
        r = f["trials"][trial]["muscle_reference"]
        out = {k: r[k][()] for k in ("time", "activation", "tendon_force", "passive_fiber_force",
                                     "normalized_fiber_length", "actuator_force")}
        for k in ("muscles", "actuators", "actuator_coordinates"):
            out[k] = [c.decode() for c in r[k][()]]
        out["solve"] = json.loads(r.attrs["solve"])
    return out


@pytest.mark.parametrize("trial", TRIALS)
def test_muscle_reference_reproduces_the_net_joint_moments(trial):
    """Muscle forces x moment arms + reserves = the simulation's net moments; the muscles carry the joints."""
    _need(EXAMPLE / "ground_truth.h5")
    import opensim as osim

    from simpipe.stages.muscles import path_generalized_forces
    from simpipe.stages.osimutil import set_pose, speed_indices

    truth, ref = _truth(EXAMPLE, trial), _reference(EXAMPLE, trial)
    assert ref["solve"]["success"] and ref["solve"]["options"]["tendon_compliance"]
    assert len(ref["muscles"]) == 18
    model = osim.Model(str(EXAMPLE / "model_true.osim"))
    state = model.initSystem()
    uidx = speed_indices(model, state)
    coords = truth["coordinates"]
    peak = np.abs(truth["generalized_forces"]).max(axis=0)
    errors = []
    for k, t in enumerate(ref["time"]):
        i = int(np.argmin(np.abs(truth["time"] - t)))
        assert abs(truth["time"][i] - t) < 1e-9            # the mesh lies on the marker frames
        set_pose(model, state, truth["q"][i], truth["u"][i])
        model.realizeVelocity(state)
        total = path_generalized_forces(model, state, ref["muscles"], uidx) @ ref["tendon_force"][k]
        for j, c in enumerate(ref["actuator_coordinates"]):
            total[coords.index(c)] += ref["actuator_force"][k, j]
        errors.append(total - truth["generalized_forces"][i])
    errors = np.abs(np.array(errors))
    # MocoInverse differentiates a spline of the 1000 Hz coordinates: close to
    # the exact accelerations except in the few ms of foot strike and toe-off
    for j, c in enumerate(coords):
        if not c.startswith("pelvis"):
            assert np.sqrt(np.mean(errors[:, j] ** 2)) < 0.01 * peak[j], (c, peak[j])
            assert errors[:, j].max() < 0.05 * peak[j], (c, errors[:, j].max(), peak[j])
    rms_share = {}
    for j, (name, c) in enumerate(zip(ref["actuators"], ref["actuator_coordinates"])):
        # muscles carry the joints; the lumbar joint has no muscle, its reserve is its moment
        if name.startswith("reserve") and not c.startswith("lumbar"):
            rms_share[name] = np.sqrt(np.mean(ref["actuator_force"][:, j] ** 2)) / peak[coords.index(c)]
    print(trial, "RMS reserve / peak net moment:", {k: round(v, 3) for k, v in rms_share.items()})
    # (the peaks are 20-30 ms spikes at foot strike, README.md of the example)
    assert max(rms_share.values()) < RESERVE_LIMIT, rms_share
    assert ref["activation"].min() >= -1e-6 and ref["activation"].max() <= 1.0 + 1e-6
    force = dict(zip(ref["muscles"], ref["tendon_force"].T))
    assert force["soleus_r"].max() > 1000.0                    # the plantar flexors carry the body


def test_a_stored_reference_that_did_not_converge_stops_the_build(tmp_path, monkeypatch):
    """As for the simulations: a cached failure is reported, never used as the truth."""
    _need(EXAMPLE / "simulation" / "run_01_muscle_reference.json")
    solutions = tmp_path / "simulation"
    shutil.copytree(EXAMPLE / "simulation", solutions)
    record_path = solutions / "run_01_muscle_reference.json"
    record = json.loads(record_path.read_text())
    record.update(success=False, status="Maximum_Iterations_Exceeded")
    record_path.write_text(json.dumps(record))
    _no_solving(monkeypatch)
    with pytest.raises(StageError, match="run_01: the muscle reference did not converge "
                                         r"\(Maximum_Iterations_Exceeded.*--resolve"):
        B.build_simulated_example(tmp_path / "subject01", MODEL, trials=gen.TRIALS[:1],
                                  solutions_dir=solutions)


# --- building ---------------------------------------------------------------------

def test_fast_build_converges_with_flight_and_reuses_its_solution(tmp_path, monkeypatch):
    """One coarse torque-driven solve (about 3 min): converged, flight < 1 N, 2-3 BW, then cached."""
    trial = gen.TRIALS[0]
    out = tmp_path / "subject01"
    summary = B.build_simulated_example(out, MODEL, chain=B.FAST_CHAIN, trials=(trial,), reference=None)
    record = summary["trials"][trial.name]["solves"][-1]
    assert record["success"], record["status"]
    q = summary["trials"][trial.name]["quality"]
    print("fast build:", record["iterations"], "iterations", record["wall_s"], "s", q)
    assert q["max_flight_vertical_grf_n"] < 1.0
    assert 2.0 <= q["peak_vertical_grf_bw"] <= 3.0
    assert q["mean_speed_m_s"] == pytest.approx(trial.speed, rel=0.01)
    assert q["truth_pelvis_residual_max_n"] < 1e-3
    half = S.read_solution(out / "simulation" / f"{trial.name}_torques_coarse.sto")
    for i, name in enumerate(half.state_names):                  # symmetric half cycle
        if not name.endswith("pelvis_tx/value"):
            assert abs(half.states[-1, i] - half.states[0, half.state_names.index(S.mirror_name(name))]) < 1e-3
    for suffix in (".trc", "_grf.mot", "_external_loads.xml"):
        assert (out / f"{trial.name}{suffix}").is_file()
    assert (out / "simulation" / f"{trial.name}_torques_coarse.json").is_file()
    assert "torques" in (out / "README.md").read_text()
    # the same build again solves nothing and writes the same files
    before = (out / f"{trial.name}_grf.mot").read_bytes()
    _no_solving(monkeypatch)
    B.build_simulated_example(out, MODEL, chain=B.FAST_CHAIN, trials=(trial,), reference=None)
    assert (out / f"{trial.name}_grf.mot").read_bytes() == before


def test_noise_is_seeded_and_only_in_the_trc(tmp_path, monkeypatch):
    _need(EXAMPLE / "simulation")
    trial = gen.TRIALS[0]
    for name in ("a", "b"):
        shutil.copytree(EXAMPLE / "simulation", tmp_path / name / "simulation")
    _no_solving(monkeypatch)
    for name in ("a", "b"):
        B.build_simulated_example(tmp_path / name, MODEL, seed=3, noise_mm=2.0, trials=(trial,))
    first, second = (tmp_path / d / "run_01.trc" for d in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    err = (read_trc(first).xyz - _truth(tmp_path / "a", "run_01")["markers"]) * 1000
    assert 1.5 < err.std() < 2.5


def test_events_are_threshold_crossings_and_flight_keeps_away_from_contact():
    t = np.arange(0.0, 1.0, 0.001)
    fy = np.where((t > 0.2) & (t < 0.5), 1500.0 * np.sin(np.pi * (t - 0.2) / 0.3), 0.0)
    events = B._events(t, fy, 20.0)
    on = 0.2 + 0.3 * np.arcsin(20.0 / 1500.0) / np.pi
    assert events["foot_strike"] == pytest.approx([on], abs=1e-4)
    assert events["toe_off"] == pytest.approx([0.5 - (on - 0.2)], abs=1e-4)
    flight = B._away_from(fy >= 20.0, 15)
    assert not flight[(t > on - 0.015) & (t < 0.5 - (on - 0.2) + 0.015)].any()
    assert flight[t < on - 0.0165].all() and flight[t > 0.5 - (on - 0.2) + 0.0165].all()


def test_step_keys_change_with_what_defines_the_problem():
    base = B.step_key("abc", gen.SUBJECT, gen.TRIALS[0], B.FULL_CHAIN[0], None)
    assert base == B.step_key("abc", gen.SUBJECT, gen.TRIALS[0], B.FULL_CHAIN[0], None)
    assert base != B.step_key("abd", gen.SUBJECT, gen.TRIALS[0], B.FULL_CHAIN[0], None)
    assert base != B.step_key("abc", gen.SUBJECT, gen.TRIALS[1], B.FULL_CHAIN[0], None)
    assert base != B.step_key("abc", gen.SUBJECT, gen.TRIALS[0], B.FULL_CHAIN[1], None)
    assert base != B.step_key("abc", gen.SUBJECT, gen.TRIALS[0], B.FULL_CHAIN[0], "prev")


def test_cli_fast_build_needs_an_output_folder(capsys):
    from simpipe.cli import main

    assert main(["example", "build", "--fast"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_full_build_from_scratch_reproduces_the_committed_example(tmp_path):
    """The whole chain solved again, muscle references included (over an hour on 2 cores)."""
    _need(EXAMPLE / "ground_truth.h5")
    out = tmp_path / "subject01"
    B.build_simulated_example(out, MODEL, resolve=True)
    for trial in TRIALS:
        new, old = _truth(out, trial), _truth(EXAMPLE, trial)
        rot = [i for i, c in enumerate(new["coordinates"]) if not c.endswith(("_tx", "_ty"))]
        assert np.degrees(np.abs(new["q"][:, rot] - old["q"][:, rot])).max() < 1.0
        assert new["quality"]["pelvis_residual_force_rms_n"] < 10.0
        ref_new, ref_old = _reference(out, trial), _reference(EXAMPLE, trial)
        assert ref_new["solve"]["success"]
        soleus = ref_new["muscles"].index("soleus_r")
        assert ref_new["tendon_force"][:, soleus].max() == pytest.approx(
            ref_old["tendon_force"][:, soleus].max(), rel=0.05)
