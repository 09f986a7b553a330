"""Muscle-level propulsion: muscle forces, induced accelerations, shares.

The fast tests solve MocoInverse on one stance of the example's run_01 at a
coarse mesh (seconds each); the sweep over the whole trial is marked slow.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest

from simpipe.analysis.propulsion import muscle_iaa
from simpipe.config import BUILTIN_GROUPS, BUILTIN_MEASUREMENTS
from simpipe.model.variants import write_variant
from simpipe.run.muscle_tasks import iaa_task, muscles_task
from simpipe.run.tasks import id_task, ik_task, scale_task

from _study import need_example
from conftest import EXAMPLE, MODEL

FEET = {"r": "calcn_r", "l": "calcn_l"}
RF = ["rect_fem_r", "rect_fem_l"]
#: Coarse MocoInverse settings for CI (the study default is finer).
COARSE = {"mesh_interval": 0.04, "tolerance": 1e-3}
#: Peak plantar-flexor force of the stage against the example's muscle reference (relative).
PUSH_OFF_TOLERANCE = 0.05


# --- analysis without OpenSim ------------------------------------------------

def _synthetic_stance():
    """One complete stance 0.2-0.8 s: braking in the first half, propulsion in the second."""
    time = np.linspace(0.0, 1.0, 1001)
    on = (time >= 0.2) & (time <= 0.8)
    phase = np.clip((time - 0.2) / 0.6, 0, 1)
    fx = np.where(on, -100.0 * np.sin(2 * np.pi * phase), 0.0)
    grf = {"r": np.column_stack([fx, np.where(on, 1000.0, 0.0), np.zeros_like(time)]),
           "l": np.zeros((len(time), 3))}
    acc = np.column_stack([np.where(on, 1.0, 0.0),                    # pushes forward all stance
                           np.where(on & (phase < 0.5), -2.0, 0.0),   # brakes early
                           np.where(on & (phase >= 0.5), 3.0, 0.0),   # pushes late
                           np.where(on, -0.5, 0.0)])                  # a reserve, braking
    return time, grf, acc


def test_muscle_iaa_impulses_and_shares_by_hand():
    time, grf, acc = _synthetic_stance()
    groups = {"a": ["m1"], "b": ["m2", "m3"]}
    res = muscle_iaa(time, ["m1", "m2", "m3", "reserve_x"], ["muscle", "muscle", "muscle", "reserve"],
                     acc, 50.0, grf, groups, threshold_n=20.0)
    assert res.n_stances == 1
    # propulsive phase 0.5-0.8 s (0.3 s), braking 0.2-0.5 s
    np.testing.assert_allclose(res.propulsive_ns, [50 * 0.3, 0.0, 50 * 3 * 0.3, -50 * 0.5 * 0.3], atol=0.3)
    np.testing.assert_allclose(res.braking_ns, [-50 * 0.3, 50 * 2 * 0.3, 0.0, 50 * 0.5 * 0.3], atol=0.3)
    assert res.shares["a"] == pytest.approx(15 / 60, abs=0.01)
    assert res.shares["b"] == pytest.approx(45 / 60, abs=0.01)
    assert res.braking_shares == {"a": 0.0, "b": 1.0}  # m1 accelerates forward while braking
    assert res.grf_propulsive_ns == pytest.approx(100 * 0.3 * 2 / np.pi, rel=0.01)
    assert res.group_impulse("b", "second_half_ns") == pytest.approx(45, abs=0.3)
    assert res.group_impulse("b", "first_half_ns") == pytest.approx(-30, abs=0.3)


def test_muscle_iaa_travelling_along_minus_x_and_incomplete_stance():
    time, grf, acc = _synthetic_stance()
    flipped = {s: g * np.array([-1, 1, 1]) for s, g in grf.items()}
    a = muscle_iaa(time, ["m1", "m2", "m3", "r"], ["muscle"] * 3 + ["reserve"], acc, 50.0, grf,
                   {"g": ["m3"]})
    b = muscle_iaa(time, ["m1", "m2", "m3", "r"], ["muscle"] * 3 + ["reserve"], -acc, 50.0, flipped,
                   {"g": ["m3"]}, forward_sign=-1.0)
    np.testing.assert_allclose(a.propulsive_ns, b.propulsive_ns)
    cut = {s: g[:600] for s, g in grf.items()}  # stance runs past the end of the record
    c = muscle_iaa(time[:600], ["m1", "m2", "m3", "r"], ["muscle"] * 3 + ["reserve"], acc[:600], 50.0,
                   cut, {"g": ["m3"]})
    assert c.n_stances == 0 and np.all(c.propulsive_ns == 0) and np.isnan(c.shares["g"])


# --- the example: kinematics, forces, variants -------------------------------

@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    """run_01 of the example: scaled model, IK, ID, GRF low-passed like the kinematics."""
    need_example()
    import h5py

    from simpipe.io.grf import read_grf, write_grf
    from simpipe.run.muscle_tasks import filtered_grf

    tmp = tmp_path_factory.mktemp("muscles")
    with h5py.File(EXAMPLE / "ground_truth.h5") as f:
        mass, height = float(f.attrs["mass_kg"]), float(f.attrs["height_m"])
    meas = {k: [tuple(p) for p in v] for k, v in BUILTIN_MEASUREMENTS.items()}
    scaled = scale_task(str(MODEL), str(EXAMPLE / "static.trc"), mass, height, meas, {}, str(tmp / "scale"), {})
    # forces low-passed at the kinematics' cut-off (Kristianslund et al. 2012), CoP kept valid
    grf = write_grf(filtered_grf(read_grf(EXAMPLE / "run_01_grf.mot"), FEET, 15.0), tmp / "grf.mot")
    ik = ik_task(scaled["model_path"], str(EXAMPLE / "run_01.trc"), {}, 1e-6, None, None, str(tmp / "ik"))
    idr = id_task(scaled["model_path"], ik, str(grf), FEET, 15.0, None, str(tmp / "id"))
    raw = read_grf(EXAMPLE / "run_01_grf.mot")
    on = np.flatnonzero(np.interp(idr["time"], raw.time, raw.column("r_ground_force_vy")) > 20.0)
    first = on[: np.argmax(np.diff(on) > 1)] if np.any(np.diff(on) > 1) else on
    assert first[0] > 0, "the first right stance must start inside the record"
    window = (float(idr["time"][first[0]] - 0.03), float(idr["time"][first[-1]] + 0.03))
    variants = {"base": scaled["model_path"]}
    for name, prop, value in (("0.45", "passive_fiber_strain_at_one_norm_force", 0.45),
                              ("0.3", "passive_fiber_strain_at_one_norm_force", 0.3),
                              ("off", "ignore_passive_fiber_force", True)):
        variants[name] = str(write_variant(scaled["model_path"], tmp / f"{name}.osim", RF, prop, value))
    return {"tmp": tmp, "id": idr, "grf": str(grf), "window": window, "models": variants}


_SOLVED: dict = {}


def solve(trial, variant: str, method: str = "moco_inverse") -> tuple[dict, dict]:
    """muscles_task + iaa_task of one variant on the first stance (cached per session)."""
    key = (variant, method)
    if key not in _SOLVED:
        work = trial["tmp"] / f"{variant}_{method}"
        opts = {"method": method, "time_range": trial["window"], **COARSE}
        mus = muscles_task(trial["models"][variant], trial["id"], trial["grf"], FEET, None, opts, str(work))
        iaa = iaa_task(trial["models"][variant], trial["id"], mus, trial["grf"], FEET, None,
                       BUILTIN_GROUPS, 20.0, str(work), label=f"run_01 {variant} {method}")
        _SOLVED[key] = (mus, iaa)
    return _SOLVED[key]


def solve_compliant(trial) -> dict:
    """muscles_task of the base model with compliant tendons on the first stance (cached)."""
    if "compliant" not in _SOLVED:
        opts = {"method": "moco_inverse", "time_range": trial["window"], "tendon_compliance": True, **COARSE}
        _SOLVED["compliant"] = muscles_task(trial["models"]["base"], trial["id"], trial["grf"], FEET, None,
                                            opts, str(trial["tmp"] / "compliant"))
    return _SOLVED["compliant"]


def _peak(mus: dict, names: list[str], what: str = "passive_fiber_force") -> float:
    cols = [mus["muscles"].index(n) for n in names]
    return float(np.asarray(mus[what])[:, cols].max())


def test_tasks_return_plain_picklable_data(trial):
    mus, iaa = solve(trial, "base", "static_optimization")
    for out in (mus, iaa):
        text = pickle.dumps(out)
        assert b"opensim" not in text
    assert set(mus) >= {"time", "muscles", "activation", "tendon_force", "passive_fiber_force",
                        "actuators", "actuator_force", "success", "iterations", "objective", "wall_s"}
    assert mus["tendon_force"].shape == (len(mus["time"]), 18)
    assert {"residual_pelvis_tx", "reserve_ankle_angle_r"} <= set(mus["actuators"])
    assert set(iaa["shares"]) == set(BUILTIN_GROUPS) and iaa["n_stances"] == 1


def test_static_optimization_reproduces_inverse_dynamics(trial):
    mus, iaa = solve(trial, "base", "static_optimization")
    # muscles + reserves + residuals give back the ID generalized forces exactly, so the
    # model's M, C, G and moment arms in the analysis agree with OpenSim's ID solver
    assert iaa["superposition"]["generalized_force_rms"] < 1e-6
    kinds = mus["actuator_kinds"]
    assert kinds.count("reserve") == 7 and kinds.count("residual") == 3
    tau = trial["id"]["tau"][np.isin(trial["id"]["time"], mus["time"])]
    pelvis = [mus["actuators"].index(f"residual_{c}") for c in ("pelvis_tilt", "pelvis_tx", "pelvis_ty")]
    # no muscle spans the root joint: its residuals are the ID forces there
    np.testing.assert_allclose(np.asarray(mus["actuator_force"])[:, pelvis], tau[:, :3], atol=1e-6)


@pytest.mark.parametrize("method", ["static_optimization", "moco_inverse"])
def test_superposition_within_5_percent(trial, method):
    mus, iaa = solve(trial, "base", method)
    sup = iaa["superposition"]
    print(method, {k: round(v, 4) for k, v in sup.items() if isinstance(v, float)})
    assert mus["success"], mus["status"]
    assert sup["relative_rms"] < 0.05, sup
    assert (trial["tmp"] / f"base_{method}" / "superposition.png").stat().st_size > 10_000


@pytest.mark.parametrize("method", ["static_optimization", "moco_inverse"])
def test_the_feet_motion_term_closes_the_no_slip_gap(trial, method):
    """At foot strike the simulated foot still sinks into its contact spheres and
    slides on their smooth friction (transition velocity 0.2 m/s): the forces'
    contributions under the no-slip constraint alone miss the measured
    acceleration by 15-20 % of its peak; the held points' measured motion is the
    term that closes the gap, up to the forces' own inverse-dynamics mismatch."""
    _, iaa = solve(trial, "base", method)
    sup = iaa["superposition"]
    assert sup["no_slip_relative_rms"] > 0.1
    assert sup["constraint_relative_rms"] > 0.1
    # the sum is the kinematics' mass-centre acceleration up to the forces' ID mismatch
    stance = np.asarray(sup["stance"])
    gap = np.asarray(sup["total"]) - np.asarray(sup["kinematic"])
    assert np.sqrt(np.mean(np.sum(gap[stance] ** 2, axis=1))) < 0.005 * sup["peak"]
    k = iaa["sources"].index("contact_motion")
    assert iaa["kinds"][k] == "contact_motion"
    flight = ~np.any([np.asarray(iaa["com_acc"])[:, k, a] != 0 for a in (0, 1)], axis=0)
    assert flight.any() and not flight.all()  # zero where no foot is held


def test_induced_accelerations_obey_newton_per_source(trial):
    _, iaa = solve(trial, "base", "static_optimization")
    m, acc, ground = iaa["mass_kg"], np.asarray(iaa["com_acc"]), np.asarray(iaa["ground_force"])
    mus, _ = solve(trial, "base", "static_optimization")
    external = np.zeros_like(ground)  # forces from outside the body other than the ground
    external[:, iaa["sources"].index("gravity"), 1] = -9.80665 * m
    for axis, coord in ((0, "residual_pelvis_tx"), (1, "residual_pelvis_ty")):
        external[:, iaa["sources"].index(coord), axis] = np.asarray(mus["actuator_force"])[:, mus["actuators"].index(coord)]
    np.testing.assert_allclose(m * acc, ground + external, atol=1e-6 * m * 10)


def test_stiffer_rf_changes_moco_inverse_solution(trial):
    base, _ = solve(trial, "base")
    stiff, _ = solve(trial, "0.3")
    assert base["success"] and stiff["success"]
    assert _peak(stiff, RF) > 2 * _peak(base, RF)
    np.testing.assert_allclose(stiff["time"], base["time"])
    others = [i for i, n in enumerate(base["muscles"]) if not n.startswith("rect_fem")]
    diff = np.abs(np.asarray(stiff["tendon_force"]) - np.asarray(base["tendon_force"]))[:, others]
    peak = np.asarray(base["tendon_force"])[:, others].max(axis=0)
    changed = [base["muscles"][others[j]] for j in np.flatnonzero(diff.max(axis=0) > 0.05 * peak)]
    assert changed, "a stiffer RF must change how the other muscles share the load"


def test_rf_without_passive_force_equals_baseline_where_rf_is_slack(trial):
    base, _ = solve(trial, "base")
    off, _ = solve(trial, "off")
    names = base["muscles"]
    length, passive = np.asarray(base["normalized_fiber_length"]), np.asarray(base["passive_fiber_force"])
    assert np.all(np.asarray(off["passive_fiber_force"])[:, [names.index(n) for n in RF]] == 0.0)
    compared = 0
    for side in ("r", "l"):  # each leg's muscles act on that leg only: the problem splits by leg
        rf = names.index(f"rect_fem_{side}")
        slack = length[:, rf] < 1.0
        if slack.sum() < 3:
            continue
        # below optimal length the De Groote-Fregly passive curve is nearly zero (< 2 % of F_max)
        assert passive[slack, rf].max() < 25.0
        leg = [i for i, n in enumerate(names) if n.endswith(f"_{side}")]
        diff = np.abs(np.asarray(off["tendon_force"]) - np.asarray(base["tendon_force"]))[np.ix_(slack, leg)]
        scale = np.asarray(base["tendon_force"])[:, leg].max(axis=0) + 100.0
        assert np.max(diff / scale) < 0.03, dict(zip([names[i] for i in leg], diff.max(axis=0).round(1)))
        compared += int(slack.sum())
    assert compared >= 5, "RF must be slack in part of the window for the comparison to mean anything"


def test_rf_passive_force_rises_monotonically_with_stiffness(trial):
    peaks = [_peak(solve(trial, v, "static_optimization")[0], RF) for v in ("base", "0.45", "0.3")]
    assert np.all(np.diff(peaks) > 0), peaks


def test_hamner_ordering_on_the_example(trial):
    """Hamner et al. 2010: plantar flexors propel most in late stance, quadriceps brake most early."""
    _, iaa = solve(trial, "base")
    partition = ["glute", "plantarflexors", "quadriceps", "hamstrings", "hip_flexors", "dorsiflexors"]

    def group(which):
        return {g: sum(iaa[which][iaa["sources"].index(m)] for m in iaa["groups"][g]) for g in partition}

    late, early = group("second_half_ns"), group("first_half_ns")
    assert max(late, key=late.get) == "plantarflexors", late
    assert min(early, key=early.get) == "quadriceps", early


def test_warm_start_from_its_own_solution_converges_sooner_to_the_same_forces(trial):
    cold, _ = solve(trial, "base")
    opts = {"method": "moco_inverse", "time_range": trial["window"], **COARSE}
    warm = muscles_task(trial["models"]["base"], trial["id"], trial["grf"], FEET, None, opts,
                        str(trial["tmp"] / "base_warm"), warm_from=cold)
    assert cold["success"] and warm["success"], (cold["status"], warm["status"])
    assert warm["extra"]["guess_file"] == cold["extra"]["solution_file"]
    assert cold["extra"]["guess_file"] is None
    # fewer, not few: IPOPT's barrier parameter restarts from its default even at the optimum
    assert warm["iterations"] < cold["iterations"], (warm["iterations"], cold["iterations"])
    np.testing.assert_allclose(warm["time"], cold["time"])
    # the same optimum within the convergence tolerance (1e-3): objective and forces
    assert warm["objective"] == pytest.approx(cold["objective"], rel=1e-3)
    force = np.asarray(cold["tendon_force"])
    diff = np.abs(np.asarray(warm["tendon_force"]) - force)
    assert diff.max() < 0.01 * force.max(), (diff.max(), force.max())
    reserves = np.abs(np.asarray(warm["actuator_force"]) - np.asarray(cold["actuator_force"]))
    assert reserves.max() < 1.0  # N m / N


def test_warm_start_falls_back_to_a_cold_solve_without_a_usable_guess(trial, caplog):
    from simpipe.run.muscle_tasks import _guess_file

    cold, _ = solve(trial, "base")
    assert _guess_file(cold, "m.osim") == cold["extra"]["solution_file"]
    assert _guess_file(None, "m.osim") is None
    with caplog.at_level("WARNING"):
        assert _guess_file(dict(cold, success=False), "m.osim") is None
        assert _guess_file(dict(cold, extra={"solution_file": str(trial["tmp"] / "gone.sto")}), "m.osim") is None
        so, _ = solve(trial, "base", "static_optimization")
        assert _guess_file(so, "m.osim") is None
    assert len([r for r in caplog.records if "not warm-started" in r.message]) == 3


def test_a_guess_of_another_problem_is_rejected_by_name(trial):
    from simpipe.errors import StageError
    from simpipe.stages.muscles import MuscleOptions, solve_moco_inverse

    cold, _ = solve(trial, "base")
    text = Path(cold["extra"]["solution_file"]).read_text()
    wrong = trial["tmp"] / "wrong_guess.sto"
    wrong.write_text(text.replace("/forceset/soleus_r/activation", "/forceset/soleus_x/activation"))
    idr = trial["id"]
    with pytest.raises(StageError, match="rejected the initial guess"):
        solve_moco_inverse(trial["models"]["base"], idr["time"], idr["coordinates"], idr["q"], trial["grf"],
                           FEET, trial["tmp"] / "wrong", MuscleOptions(time_range=trial["window"], **COARSE),
                           guess=wrong)


def test_reserve_fractions_cover_the_muscle_spanned_joints(trial):
    """Peak reserve / peak net moment per joint some muscle crosses (Hicks et al. 2015: < 10 %)."""
    cold, _ = solve(trial, "base")
    fractions = cold["reserve_fractions"]
    assert set(fractions) == {f"reserve_{j}_{s}" for j in ("hip_flexion", "knee_angle", "ankle_angle")
                              for s in "rl"}                  # no muscle crosses the lumbar joint
    idr, coords = trial["id"], list(trial["id"]["coordinates"])
    window = (idr["time"] >= cold["time"][0] - 1e-9) & (idr["time"] <= cold["time"][-1] + 1e-9)
    j = cold["actuators"].index("reserve_ankle_angle_r")
    by_hand = (np.abs(np.asarray(cold["actuator_force"])[:, j]).max()
               / np.abs(idr["tau"][window, coords.index("ankle_angle_r")]).max())
    assert fractions["reserve_ankle_angle_r"] == pytest.approx(by_hand)
    print("reserve / peak net moment:", {k: round(v, 3) for k, v in fractions.items()})
    assert all(v >= 0 for v in fractions.values())


def test_compliant_tendons_converge_and_relieve_the_plantar_flexors(trial):
    """tendon_compliance: implicit tendon dynamics from the rigid solution, dense Jacobian (minutes).

    With rigid tendons the plantar flexors' fibres take the whole
    muscle-tendon shortening of push-off and their force-velocity relation
    caps them; a compliant tendon takes part of it, so the same moments cost
    less effort and the ankle needs less reserve.
    """
    rigid, _ = solve(trial, "base")
    compliant = solve_compliant(trial)
    print("rigid:", rigid["iterations"], "iterations, objective", round(rigid["objective"], 3),
          {k: round(v, 3) for k, v in rigid["reserve_fractions"].items()})
    print("compliant:", compliant["iterations"], "iterations, objective", round(compliant["objective"], 3),
          round(compliant["wall_s"], 1), "s", compliant["extra"]["rigid_start"],
          {k: round(v, 3) for k, v in compliant["reserve_fractions"].items()})
    assert compliant["success"], compliant["status"]
    start = compliant["extra"]["rigid_start"]
    assert start["success"] and compliant["extra"]["guess_file"].endswith("rigid_start_guess.sto")
    assert compliant["objective"] < rigid["objective"]
    assert (compliant["reserve_fractions"]["reserve_ankle_angle_r"]
            < rigid["reserve_fractions"]["reserve_ankle_angle_r"])
    soleus = compliant["muscles"].index("soleus_r")
    assert (np.asarray(compliant["tendon_force"])[:, soleus].max()
            > np.asarray(rigid["tendon_force"])[:, soleus].max())


def test_compliant_stage_recovers_the_reference_plantar_flexor_forces(trial):
    """From the files (scaled model, IK, ID at 15 Hz), the stage finds the truth's push-off forces.

    The truth is the example's muscle reference (MocoInverse with compliant
    tendons on the exact states and contact forces, true model).
    """
    import h5py

    mus = solve_compliant(trial)
    with h5py.File(EXAMPLE / "ground_truth.h5") as f:
        ref = f["trials"]["run_01"]["muscle_reference"]
        ref_time, ref_force = ref["time"][()], ref["tendon_force"][()]
        ref_muscles = [m.decode() for m in ref["muscles"][()]]
    time, force = np.asarray(mus["time"]), np.asarray(mus["tendon_force"])
    inside = (ref_time >= time[0]) & (ref_time <= time[-1])
    for name in ("soleus_r", "gastroc_r"):
        got, want = force[:, mus["muscles"].index(name)], ref_force[inside, ref_muscles.index(name)]
        print(name, "peak", round(got.max()), "N at", round(time[got.argmax()], 3), "s; truth", round(want.max()),
              "N at", round(ref_time[inside][want.argmax()], 3), "s")
        assert got.max() == pytest.approx(want.max(), rel=PUSH_OFF_TOLERANCE), name
        assert abs(time[got.argmax()] - ref_time[inside][want.argmax()]) <= 0.03, name
    # the tolerance tells tendon models apart: with rigid tendons the soleus's
    # force-velocity relation caps it in push-off (measured: 11 % low)
    rigid, _ = solve(trial, "base")
    soleus_rigid = np.asarray(rigid["tendon_force"])[:, rigid["muscles"].index("soleus_r")]
    print("soleus_r peak with rigid tendons", round(soleus_rigid.max()), "N at",
          round(float(np.asarray(rigid["time"])[soleus_rigid.argmax()]), 3), "s")
    assert soleus_rigid.max() != pytest.approx(ref_force[inside, ref_muscles.index("soleus_r")].max(),
                                               rel=PUSH_OFF_TOLERANCE)


@pytest.mark.slow
def test_whole_trial_sweep_moco_inverse(trial):
    """The study's setting: whole trial, mesh 0.02 s, every variant (minutes)."""
    results = {}
    for variant in ("base", "0.45", "0.3", "off"):
        work = trial["tmp"] / f"sweep_{variant}"
        opts = {"method": "moco_inverse", "mesh_interval": 0.02}
        mus = muscles_task(trial["models"][variant], trial["id"], trial["grf"], FEET, None, opts, str(work))
        iaa = iaa_task(trial["models"][variant], trial["id"], mus, trial["grf"], FEET, None,
                       BUILTIN_GROUPS, 20.0, str(work), label=f"run_01 {variant}")
        assert mus["success"], (variant, mus["status"])
        assert iaa["superposition"]["relative_rms"] < 0.05, (variant, iaa["superposition"])
        assert iaa["n_stances"] == 2
        results[variant] = (mus, iaa)
    peaks = [_peak(results[v][0], RF) for v in ("base", "0.45", "0.3")]
    assert np.all(np.diff(peaks) > 0), peaks
    assert _peak(results["off"][0], RF) == 0.0
    for variant, (_, iaa) in results.items():
        assert 0.0 <= iaa["shares"]["glute"] <= 1.0 and 0.0 <= iaa["shares"]["plantarflexors"] <= 1.0


def test_moco_inverse_converts_other_muscle_classes_and_says_so(tmp_path):
    """Millard2012 and Thelen2003 muscles become DeGrooteFregly2016 for MocoInverse."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from model3d import _assemble
    from simpipe.stages.muscles import MuscleOptions, moco_model_processor, non_dgf_muscles
    from simpipe.stages.osimutil import load_model

    model = load_model(_assemble(tmp_path / "m3d.osim"))
    before = non_dgf_muscles(model)
    assert {"Millard2012EquilibriumMuscle", "Thelen2003Muscle"} <= set(before)
    loads = tmp_path / "loads.xml"
    loads.write_text('<?xml version="1.0"?><OpenSimDocument Version="40000"><ExternalLoads name="none">'
                     '<objects/></ExternalLoads></OpenSimDocument>')
    processed = moco_model_processor(model, loads, MuscleOptions()).process()
    assert non_dgf_muscles(processed) == {}
    assert processed.getMuscles().getSize() == model.getMuscles().getSize()


# --- warm starts in the plan --------------------------------------------------

def _points(*stiffness):
    from simpipe.run.variants import VariantPoint

    return [VariantPoint(f"x{k:.2f}", "passive_fiber_strain_at_one_norm_force", 0.6 / k, k) for k in stiffness]


@pytest.mark.parametrize("stiffness", [(1.0,), (1.0, 2.0), (2.0, 1.0, 1.5, 1.2), (1, 1.2, 1.5, 2, 3)])
def test_warm_start_order_starts_each_variant_from_a_solved_neighbour(stiffness):
    from simpipe.run.plan import warm_start_order

    order = warm_start_order(_points(*stiffness))
    axis = sorted(stiffness)
    assert sorted(v.rf_stiffness for v, _ in order) == axis
    assert [s for _, s in order].count(None) == 1  # one cold solve per trial
    root = order[0][0]
    assert order[0][1] is None and axis.index(root.rf_stiffness) == (len(axis) - 1) // 2
    seen = {root.name}
    for v, source in order[1:]:
        assert source.name in seen  # its guess is solved before it
        assert abs(axis.index(v.rf_stiffness) - axis.index(source.rf_stiffness)) == 1  # a neighbour
        # ... on the side of the middle: the chain moves outward
        assert abs(axis.index(source.rf_stiffness) - axis.index(root.rf_stiffness)) < \
            abs(axis.index(v.rf_stiffness) - axis.index(root.rf_stiffness))
        seen.add(v.name)
    depth = {root.name: 1}
    for v, source in order[1:]:
        depth[v.name] = depth[source.name] + 1
    assert max(depth.values()) == math.ceil((len(axis) + 1) / 2)


def test_warm_start_order_without_a_stiffness_uses_the_swept_value():
    from simpipe.run.plan import warm_start_order
    from simpipe.run.variants import VariantPoint

    points = [VariantPoint(f"v{x}", "tendon_strain_at_one_norm_force", x, float("nan")) for x in (0.06, 0.02, 0.04)]
    order = warm_start_order(points)
    assert [v.value for v, _ in order] == [0.04, 0.06, 0.02]
    assert [s and s.value for _, s in order] == [None, 0.04, 0.04]


@pytest.mark.parametrize("warm, method", [(True, "moco_inverse"), (False, "moco_inverse"),
                                          (True, "static_optimization")])
def test_plan_chains_muscles_tasks_only_for_warm_moco_inverse(tmp_path, warm, method):
    import yaml

    from _study import quickstart_config
    from simpipe.config import load_study
    from simpipe.run.plan import build_plan

    need_example()
    cfg = quickstart_config()
    cfg.update(stages=["scale", "ik", "id", "muscles", "iaa"], output=str(tmp_path / "out"),
               muscles={"method": method, "warm_start": warm})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(cfg))
    study = load_study(tmp_path / "s.yaml")[0]
    plan = build_plan(study, MODEL)
    muscles = plan.by_stage("muscles")
    assert len(muscles) == 2 * 4 and len(plan.by_stage("iaa")) == 8
    assert all("warm_start" not in t.kwargs["options"] for t in muscles)  # not a solver option
    chained = [t for t in muscles if "warm_from" in t.deps]
    if not (warm and method == "moco_inverse"):
        assert not chained
        return
    assert len(chained) == 2 * 3  # all but one variant per trial
    by_key = {t.key: t for t in plan.tasks}
    position = {t.key: i for i, t in enumerate(plan.tasks)}
    for t in chained:
        source = by_key[t.deps["warm_from"][0]]
        assert source.stage == "muscles" and source.where["trial"] == t.where["trial"]
        assert position[source.key] < position[t.key]
    roots = {t.where["trial"]: t.where["variant"] for t in muscles if "warm_from" not in t.deps}
    assert roots == {"run_01": "x1.20", "run_02": "x1.20"}
    assert len(plan.variants) == 4 and {t.where["variant"] for t in muscles} == {v.name for v in plan.variants}
