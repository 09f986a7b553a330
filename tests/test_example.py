"""The prescribed-kinematics example (``simpipe example build --prescribed``).

Before the Moco-simulated example (tests/test_example_simulated.py) the
example subject was built from prescribed joint angles with the GRF the
motion implies; the builder stays (it makes the reference motion the
simulations track, and a quick synthetic subject): reproducible, physical
where it claims to be, its files agree with its truth. One build into a
temporary folder (about 10-20 s) is shared by the tests.
"""

from pathlib import Path

import h5py
import numpy as np
import pytest

from simpipe.example import generate as gen
from simpipe.example import trajectories as traj
from simpipe.io.grf import read_grf
from simpipe.io.trc import read_trc

from conftest import MODEL

TRIALS = [t.name for t in gen.TRIALS]


def _need(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"missing {path}; run `simpipe model build` / `simpipe example build`")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    _need(MODEL)
    out = tmp_path_factory.mktemp("example") / "subject01"
    summary = gen.build_example(out, MODEL, seed=0)
    return out, summary


def _truth(folder: Path, trial: str) -> dict:
    with h5py.File(folder / "ground_truth.h5", "r") as f:
        g = f["trials"][trial]
        out = {k: g[k][()] for k in ("time", "q", "u", "udot", "generalized_forces", "markers")}
        out["coordinates"] = [c.decode() for c in g["coordinates"][()]]
        out["marker_names"] = [c.decode() for c in g["marker_names"][()]]
        out["events"] = {k: g["events"][k][()] for k in g["events"]}
        out["mass"] = float(f.attrs["mass_kg"])
    return out


# --- trajectories -------------------------------------------------------------

def test_stored_coefficients_are_the_fit_of_the_knots():
    for name, knots in traj.KNOTS_DEG.items():
        assert traj.fit_fourier(knots, traj.HARMONICS[name]) == traj.curves_deg()[name], name


def test_curves_meet_published_key_values():
    phase = np.linspace(0, 1, 1000, endpoint=False)
    c = traj.curves_deg()
    stance = phase < traj.STANCE_FRACTION
    hip, knee, ankle = c["hip_flexion"](phase), c["knee_angle"](phase), c["ankle_angle"](phase)
    assert 40 <= hip.max() <= 45 and -15 <= hip.min() <= -10
    assert 0.35 < phase[np.argmin(hip)] < 0.45  # peak extension near toe-off
    assert 38 <= knee[stance].max() <= 47 and 100 <= knee.max() <= 110
    assert 18 <= ankle[stance].max() <= 27 and -25 <= ankle.min() <= -20
    tilt = c["pelvis_tilt"](phase)
    assert -15 <= tilt.mean() <= -10 and np.ptp(tilt) < 6
    for name, knots in traj.KNOTS_DEG.items():
        k = np.array(knots)
        assert np.abs(c[name](k[:, 0]) - k[:, 1]).max() < 1.0, name


def test_derivatives_are_exact_and_left_is_right_half_a_cycle_later():
    phase, h = np.linspace(0, 1, 50), 1e-5
    for order in (1, 2):
        num = (traj.joint_angles(phase + h, "knee_angle_r", order - 1)
               - traj.joint_angles(phase - h, "knee_angle_r", order - 1)) / (2 * h)
        exact = traj.joint_angles(phase, "knee_angle_r", order)
        assert np.allclose(exact, num, rtol=1e-5, atol=1e-4)
    assert np.allclose(traj.joint_angles(phase + 0.5, "hip_flexion_l"),
                       traj.joint_angles(phase, "hip_flexion_r"))


# --- reproducibility ------------------------------------------------------------

def test_rebuild_is_byte_identical(built, tmp_path):
    """Same machine, same seed: the same bytes (h5 included)."""
    out, _ = built
    again = tmp_path / "again"
    gen.build_example(again, MODEL, seed=0)
    for path in sorted(out.iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


# --- physics of the generated trials -------------------------------------------

@pytest.mark.parametrize("trial", TRIALS)
def test_stance_foot_on_the_ground_and_swing_foot_above_it(built, trial):
    out, summary = built
    quality = summary["trials"][trial]
    assert quality["max_stance_foot_height_mm"] < 5.0
    assert quality["min_swing_foot_height_mm"] > -2.0


@pytest.mark.parametrize("trial", TRIALS)
def test_grf_is_zero_in_flight_and_peaks_like_running(built, trial):
    out, summary = built
    spec = next(t for t in gen.TRIALS if t.name == trial)
    grf = read_grf(out / f"{trial}_grf.mot")
    phase = spec.phase0 + grf.time / spec.cycle_time
    flight = ~(gen._in_stance(phase, "r") | gen._in_stance(phase, "l"))
    assert flight.sum() > 50
    assert np.all(grf.values[flight] == 0.0)
    fy = grf.column("r_ground_force_vy") + grf.column("l_ground_force_vy")
    weight = _truth(out, trial)["mass"] * 9.80665
    peak = fy.max() / weight
    print(f"{trial}: peak vertical GRF {peak:.2f} BW")
    assert 2.0 <= peak <= 3.5
    assert peak == pytest.approx(summary["trials"][trial]["peak_vertical_grf_bw"])


@pytest.mark.parametrize("trial", TRIALS)
def test_vertical_impulse_over_a_cycle_balances_weight(built, trial):
    out, _ = built
    spec = next(t for t in gen.TRIALS if t.name == trial)
    grf = read_grf(out / f"{trial}_grf.mot")
    t0 = (np.ceil(spec.phase0) - spec.phase0) * spec.cycle_time  # first right foot strike
    one = (grf.time >= t0) & (grf.time < t0 + spec.cycle_time)
    fy = grf.column("r_ground_force_vy") + grf.column("l_ground_force_vy")
    weight = _truth(out, trial)["mass"] * 9.80665
    dt = float(np.median(np.diff(grf.time)))
    imbalance = np.sum(fy[one] - weight) * dt / (weight * spec.cycle_time)
    assert abs(imbalance) < 0.03


@pytest.mark.parametrize("trial", TRIALS)
def test_trc_markers_are_the_model_markers_at_the_true_pose(built, trial):
    out, _ = built
    truth = _truth(out, trial)
    markers = read_trc(out / f"{trial}.trc")
    probe = gen._Probe(out / "model_true.osim")
    assert markers.names == truth["marker_names"] == probe.marker_names
    assert np.allclose(markers.time, truth["time"])
    for k in range(0, len(truth["time"]), 7):
        probe.pose(dict(zip(truth["coordinates"], truth["q"][k])))
        assert np.abs(markers.xyz[k] - probe.markers()).max() < 1e-4


@pytest.mark.parametrize("trial", TRIALS)
def test_inverse_dynamics_truth_balances_the_written_grf(built, trial):
    """Pelvis residual force = m a_com - m g - GRF: zero wherever the GRF is
    the implied force, i.e. in stance away from the events."""
    out, summary = built
    truth = _truth(out, trial)
    events = np.concatenate(list(truth["events"].values()))
    assert len(truth["events"]["foot_strike_r"]) >= 1 and len(truth["events"]["toe_off_r"]) >= 1
    grf = read_grf(out / f"{trial}_grf.mot")
    at = np.searchsorted(grf.time, truth["time"] - 1e-9)
    fy = grf.column("r_ground_force_vy")[at] + grf.column("l_ground_force_vy")[at]
    tau = dict(zip(truth["coordinates"], truth["generalized_forces"].T))
    res = np.hypot(tau["pelvis_tx"], tau["pelvis_ty"])
    far = np.min(np.abs(truth["time"][:, None] - events[None, :]), axis=1) > 0.012
    loaded = far & (fy > 50.0)
    assert loaded.sum() > 40
    assert res[loaded].max() < 1.0
    weight = truth["mass"] * 9.80665
    assert summary["trials"][trial]["max_flight_residual_force_n"] < 0.1 * weight


def test_noise_is_seeded_and_only_in_the_trc(tmp_path):
    _need(MODEL)
    trial = gen.Trial("run_01", speed=3.4, cycle_time=0.72, duration=0.2)
    a = gen.build_example(tmp_path / "a", MODEL, seed=3, noise_mm=2.0, trials=(trial,))
    gen.build_example(tmp_path / "b", MODEL, seed=3, noise_mm=2.0, trials=(trial,))
    first, second = (tmp_path / d / "run_01.trc" for d in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    noisy = read_trc(tmp_path / "a" / "run_01.trc")
    clean = _truth(tmp_path / "a", "run_01")["markers"]
    err = (noisy.xyz - clean) * 1000
    assert 1.5 < err.std() < 2.5
    assert a["files"]
