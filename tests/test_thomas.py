"""Modified Thomas test of the built-in model and its RF stiffness variants (real OpenSim).

No exact angles are asserted: the built-in model's tendon slack lengths may be
recalibrated. The assertions are the physics: ordering with stiffness, the
moment balance at the rest angle, and what the knee angle does to the RF.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from simpipe.analysis.thomas import FLAG_FALLS, FLAG_OK, thomas_curves, thomas_test
from simpipe.errors import ModelError
from simpipe.model.groups import model_muscle_names
from simpipe.model.variants import PASSIVE_STIFFNESS, write_variant
from simpipe.report.thomas_figure import write_thomas_figure
from simpipe.stages.osimutil import coordinate_names, opensim, speed_indices

osim = opensim()
MODEL = Path(__file__).resolve().parents[1] / "models" / "simpipe_run2d.osim"
RF = ["rect_fem_r"]
#: Relative RF passive stiffness of the sweep (as simpipe.run.variants names them: x1.00 ...).
STIFFNESS = (1.0, 1.2, 1.5, 2.0, 3.0)
LIMB = ("femur_r", "tibia_r", "calcn_r")  # the hanging limb of the built-in model
G = 9.80665


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A private copy of the built-in model (it may be regenerated while tests run)."""
    out = tmp_path_factory.mktemp("thomas")
    shutil.copy(MODEL, out / "base.osim")
    return out


def _variant(src: Path, k: float, folder: Path, tag: str = "") -> Path:
    return write_variant(src, folder / f"{tag}x{k:.2f}.osim", RF, PASSIVE_STIFFNESS, k)


def _with_hip_capsule(src: Path, dst: Path) -> Path:
    """A copy with a passive hip extension limit (capsule-like, 5 N m/deg beyond -10 deg)."""
    model = osim.Model(str(src))
    capsule = osim.CoordinateLimitForce("hip_flexion_r", 120.0, 5.0, -10.0, 5.0, 0.0, 2.0)
    capsule.setName("hip_capsule_r")
    model.addForce(capsule)
    model.finalizeConnections()
    model.printToXML(str(dst))
    return dst


@pytest.fixture(scope="module")
def sweep(folder) -> dict[float, dict]:
    return {k: thomas_test(_variant(folder / "base.osim", k, folder)) for k in STIFFNESS}


@pytest.fixture(scope="module")
def capsule(folder) -> dict[str, Path]:
    """The built-in model with a hip capsule: at default, doubled and switched-off RF passive force."""
    base = _with_hip_capsule(folder / "base.osim", folder / "capsule.osim")
    off = write_variant(base, folder / "capsule_rf_off.osim", RF, "ignore_passive_fiber_force", True)
    return {"x1.00": base, "x2.00": _variant(base, 2.0, folder, "capsule_"), "rf_off": off}


def test_knee90_angle_falls_as_rf_stiffness_rises(sweep):
    """Stiffer RF: less hip extension. Soft variants may drop past the range (NaN, flagged)."""
    results = [sweep[k][90.0] for k in STIFFNESS]
    flags = [r.flag for r in results]
    n_falls = flags.count(FLAG_FALLS)
    assert flags == [FLAG_FALLS] * n_falls + [FLAG_OK] * (len(flags) - n_falls)
    finite = [r.thigh_angle_deg for r in results if r.flag == FLAG_OK]
    assert len(finite) >= 3
    assert np.all(np.diff(finite) > 0.5), finite  # thigh angle rises = hip extension falls
    for r in results:
        if r.flag == FLAG_FALLS:
            assert math.isnan(r.thigh_angle_deg) and math.isnan(r.hip_flexion_deg)
            assert r.passive_moment_nm < r.limb_moment_nm  # at the lower limit: not clamped to it
        else:
            assert r.hip_flexion_deg == pytest.approx(r.thigh_angle_deg - r.pelvis_tilt_deg, abs=1e-6)


def _hip_moments(model_path: Path, hip_deg: float, knee_deg: float) -> tuple[float, float, float]:
    """Independent check: limb-weight moment from segment masses and COMs, and OpenSim's
    inverse-dynamics hip moment of the muscles at zero activation (rigid tendons)."""
    model = osim.Model(str(model_path))
    for i in range(model.getMuscles().getSize()):
        model.getMuscles().get(i).set_ignore_tendon_compliance(True)
    state = model.initSystem()
    cs = model.getCoordinateSet()
    for name, deg in (("pelvis_tilt", 90.0), ("hip_flexion_r", hip_deg), ("knee_angle_r", knee_deg)):
        cs.get(name).setValue(state, math.radians(deg), False)
    model.realizePosition(state)
    hip_x = model.getJointSet().get("hip_r").getChildFrame().getPositionInGround(state).get(0)
    bodies = model.getBodySet()
    weight = sum(G * bodies.get(b).getMass()
                 * (bodies.get(b).findStationLocationInGround(state, bodies.get(b).getMassCenter()).get(0) - hip_x)
                 for b in LIMB)
    muscles = model.getMuscles()
    passive = 0.0
    for i in range(muscles.getSize()):
        muscles.get(i).setActivation(state, 0.0)
    model.realizeDynamics(state)
    for i in range(muscles.getSize()):
        mus = muscles.get(i)
        passive += mus.getPassiveFiberForceAlongTendon(state) * mus.computeMomentArm(state, cs.get("hip_flexion_r"))
    solver = osim.InverseDynamicsSolver(model)
    fs = model.getForceSet()
    for i in range(fs.getSize()):
        fs.get(i).setAppliesForce(state, fs.get(i).getConcreteClassName() == "DeGrooteFregly2016Muscle")
    model.realizeVelocity(state)
    tau = solver.solve(state, osim.Vector(state.getNU(), 0.0))
    hip_u = int(speed_indices(model, state)[coordinate_names(model).index("hip_flexion_r")])
    return weight, passive, weight - tau.get(hip_u)


def test_rest_angle_balances_passive_and_limb_weight_moments(sweep, folder):
    k = next(k for k in STIFFNESS if sweep[k][90.0].flag == FLAG_OK)
    r = sweep[k][90.0]
    assert abs(r.residual_nm) < 1e-6 * r.limb_moment_nm
    assert r.limb_moment_nm > 10.0
    assert sum(r.contributions_nm.values()) == pytest.approx(r.passive_moment_nm, rel=1e-9)
    assert r.contributions_nm["rect_fem_r"] > 0.5 * r.passive_moment_nm  # knee 90: RF carries the limb
    weight, passive, passive_id = _hip_moments(folder / f"x{k:.2f}.osim", r.hip_flexion_deg, 90.0)
    assert r.limb_moment_nm == pytest.approx(weight, rel=1e-6)
    assert r.passive_moment_nm == pytest.approx(passive, rel=1e-6)
    assert r.passive_moment_nm == pytest.approx(passive_id, rel=1e-6)


def test_knee_straight_angle_barely_depends_on_rf(capsule):
    """With something to hold the straight limb (a hip capsule), RF stiffness moves the
    knee-90 angle and hardly the knee-straight one: the test tells RF from one-joint tightness."""
    soft, stiff = thomas_test(capsule["x1.00"]), thomas_test(capsule["x2.00"])
    assert all(r.flag == FLAG_OK for r in (*soft.values(), *stiff.values()))
    change_flexed = stiff[90.0].thigh_angle_deg - soft[90.0].thigh_angle_deg
    change_straight = abs(stiff[0.0].thigh_angle_deg - soft[0.0].thigh_angle_deg)
    assert change_flexed > 2.0
    assert change_straight < 0.1 * change_flexed
    assert soft[0.0].rf_force_n < 0.1 * soft[90.0].rf_force_n
    assert soft[0.0].contributions_nm["hip_capsule_r"] > 0.5 * soft[0.0].passive_moment_nm


def test_rf_passive_force_off_gives_more_hip_extension(capsule):
    default, off = thomas_test(capsule["x1.00"], knee_deg=(90.0,))[90.0], \
        thomas_test(capsule["rf_off"], knee_deg=(90.0,))[90.0]
    assert default.flag == FLAG_OK
    assert off.rf_force_n == 0.0
    assert off.flag == FLAG_FALLS or off.thigh_angle_deg < default.thigh_angle_deg - 1.0


def test_no_rest_angle_is_nan_and_flagged(folder):
    limp = write_variant(folder / "base.osim", folder / "limp.osim", model_muscle_names(folder / "base.osim"),
                         "ignore_passive_fiber_force", True)
    for r in thomas_test(limp).values():
        assert r.flag == FLAG_FALLS and math.isnan(r.thigh_angle_deg)
        assert r.passive_moment_nm == pytest.approx(0.0, abs=1e-9) and r.limb_moment_nm > 10.0


def test_posterior_pelvic_tilt_raises_the_thigh(folder, sweep):
    """Posterior tilt extends the hip for the same thigh angle, so the thigh rests higher."""
    path = folder / "x2.00.osim"
    flat, tilted = (thomas_test(path, knee_deg=(90.0,), pelvis_tilt_deg=t)[90.0] for t in (0.0, 10.0))
    assert flat.flag == tilted.flag == FLAG_OK
    assert tilted.thigh_angle_deg > flat.thigh_angle_deg
    assert tilted.hip_flexion_deg == pytest.approx(tilted.thigh_angle_deg - 10.0, abs=1e-6)


def test_compliant_tendons_allow_more_extension(folder, sweep):
    """A compliant tendon stretches under the passive force: less passive moment, more extension."""
    path = folder / "x2.00.osim"
    rigid = sweep[2.0][90.0]
    compliant = thomas_test(path, knee_deg=(90.0,), tendon_compliance=True)[90.0]
    assert compliant.flag == FLAG_FALLS or compliant.thigh_angle_deg < rigid.thigh_angle_deg
    at_rigid_rest = thomas_curves(path, knee_deg=(90.0,), hip_deg=[rigid.hip_flexion_deg], tendon_compliance=True)
    assert 0.0 < at_rigid_rest.passive_moment_nm[0, 0] < rigid.passive_moment_nm


def test_curves_agree_with_the_test_and_figure_is_written(folder, sweep, tmp_path):
    curves = {f"x{k:.2f}": thomas_curves(folder / f"x{k:.2f}.osim", hip_deg=np.arange(-40.0, 31.0, 2.0))
              for k in (1.2, 2.0)}
    c = curves["x2.00"]
    assert c.passive_moment_nm.shape == c.rf_force_n.shape == (2, 36)
    assert np.allclose(c.contribution_nm.sum(axis=2), c.passive_moment_nm)
    rest = sweep[2.0][90.0].thigh_angle_deg
    excess = c.passive_moment_nm[0] - c.limb_moment_nm[0]
    crossing = c.thigh_angle_deg[np.flatnonzero((excess[:-1] >= 0) & (excess[1:] < 0))[-1]]
    assert crossing <= rest <= crossing + 2.0
    results = {f"x{k:.2f}": sweep[k] for k in (1.2, 2.0)}
    png, svg = write_thomas_figure(curves, tmp_path / "fig", results)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = svg.read_text()
    assert "RF passive force (N)" in text and "x2.00" in text


def test_bad_inputs_are_named(folder):
    with pytest.raises(ModelError, match="no muscle group 'nope'"):
        thomas_test(folder / "base.osim", rf_group="nope")
    with pytest.raises(ValueError, match="side"):
        thomas_test(folder / "base.osim", side="x")
