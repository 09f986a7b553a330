"""Tests of the Moco running simulation behind the example (simpipe.example.simulate).

The helpers that turn a symmetric half cycle into trials, and the GRF
arithmetic of simpipe.example.simdata, are tested on synthetic arrays (fast).
The coarse solve (``simulate.COARSE``: torque-driven, 15 mesh intervals)
of the built-in model takes about 3 min on 2 cores (417 IPOPT iterations)
and is checked for convergence, flight phases, stance peak force and
symmetry; it is marked slow because CI runs the same solve on the example
subject's model as the fast example build (test_example_simulated.py); the
full build (COARSE, then FULL warm-started from it: about 5.5 min) is slow
too.
"""

from __future__ import annotations

import numpy as np
import pytest

from simpipe.example import simulate as S

TX = "/jointset/ground_pelvis/pelvis_tx/value"
TX_U = "/jointset/ground_pelvis/pelvis_tx/speed"
HIP_R = "/jointset/hip_r/hip_flexion_r/value"
HIP_L = "/jointset/hip_l/hip_flexion_l/value"
HIP_R_U = "/jointset/hip_r/hip_flexion_r/speed"
HIP_L_U = "/jointset/hip_l/hip_flexion_l/speed"


def test_mirror_name_swaps_every_side_suffix():
    assert S.mirror_name(HIP_R) == HIP_L
    assert S.mirror_name("/forceset/soleus_l/activation") == "/forceset/soleus_r/activation"
    assert S.mirror_name("/jointset/lumbar/lumbar_extension/value").endswith("lumbar_extension/value")


def _half_cycle(period: float = 0.7, n: int = 41, speed: float = 3.5) -> S.Cycle:
    """A half cycle of a smooth periodic motion, right leg = left leg shifted by T/2."""
    t = np.linspace(0.0, period / 2, n)
    w = 2 * np.pi / period
    names = [TX, TX_U, HIP_R, HIP_R_U, HIP_L, HIP_L_U]
    states = np.column_stack([speed * t, np.full_like(t, speed),
                              np.sin(w * t), w * np.cos(w * t),
                              np.sin(w * (t - period / 2)), w * np.cos(w * (t - period / 2))])
    controls = np.column_stack([0.5 + 0.4 * np.sin(w * t), 0.5 + 0.4 * np.sin(w * (t - period / 2))])
    return S.Cycle(t, names, states, ["/forceset/m_r", "/forceset/m_l"], controls)


def test_refined_mesh_is_finer_inside_its_windows_and_spans_zero_to_one():
    mesh = np.array(S.refined_mesh(80, ((0.0, 0.125, 3), (0.965, 1.0, 2))))
    assert mesh[0] == 0.0 and mesh[-1] == 1.0 and np.all(np.diff(mesh) > 0)
    step = np.diff(mesh)
    mid = (mesh[:-1] + mesh[1:]) / 2
    np.testing.assert_allclose(step[mid < 0.125], 1 / 240, rtol=1e-6)
    np.testing.assert_allclose(step[mid > 0.965], 1 / 160, rtol=0.1)
    inside = (mid > 0.125) & (mid < 0.965)
    np.testing.assert_allclose(step[inside], 1 / 80, rtol=0.05)
    assert len(mesh) - 1 == 30 + 67 + 6
    assert S.refined_mesh(10, ()) == tuple(np.round(np.linspace(0, 1, 11), 9))
    with pytest.raises(ValueError, match="overlaps"):
        S.refined_mesh(10, ((0.1, 0.5, 2), (0.4, 0.6, 2)))


def test_mirrored_half_cycle_is_the_full_periodic_motion():
    period, speed = 0.7, 3.5
    full = S.mirror_half_cycle(_half_cycle(period, speed=speed))
    w = 2 * np.pi / period
    assert full.time[-1] == pytest.approx(period)
    np.testing.assert_allclose(full.column(HIP_R), np.sin(w * full.time), atol=1e-12)
    np.testing.assert_allclose(full.column(TX), speed * full.time, atol=1e-12)
    np.testing.assert_allclose(full.column("/forceset/m_r"), 0.5 + 0.4 * np.sin(w * full.time),
                               atol=1e-12)


def test_sampled_trial_repeats_cycles_and_keeps_value_and_speed_consistent():
    period, speed = 0.7, 3.5
    full = S.mirror_half_cycle(_half_cycle(period, n=81, speed=speed))
    time = np.arange(0, 181) / 200.0
    offset = -0.1 * period
    got = S.sample_cycle(full, time, time_offset=offset)
    w = 2 * np.pi / period
    np.testing.assert_allclose(got.column(HIP_R), np.sin(w * (time + offset)), atol=1e-5)
    np.testing.assert_allclose(got.column(HIP_L_U), w * np.cos(w * (time + offset - period / 2)),
                               atol=1e-3)
    np.testing.assert_allclose(got.column(TX), speed * (time + offset), atol=1e-9)


def test_contact_depth_inverts_hertz_force():
    from simpipe.model.parameters import CONTACT

    depth = S.contact_depth(np.array([0.0, 700.0, 1400.0]))
    k = 4.0 / 3.0 * np.sqrt(CONTACT.radius) * CONTACT.stiffness
    np.testing.assert_allclose(k * depth ** 1.5, [0.0, 700.0, 1400.0])
    assert 0.005 < depth[2] < 0.03


def test_centre_of_pressure_recovers_point_and_free_moment():
    from simpipe.example.simdata import centre_of_pressure

    point = np.array([[0.3, 0.0, 0.09], [0.5, 0.0, -0.1], [0.0, 0.0, 0.0]])
    force = np.array([[-100.0, 1500.0, 0.0], [200.0, 900.0, 10.0], [0.0, 0.2, 0.0]])
    free = np.array([0.0, 3.0, 0.0])
    moment = np.cross(point, force) + free[:, None] * np.array([0.0, 1.0, 0.0])
    cop, got_free = centre_of_pressure(force, moment)
    np.testing.assert_allclose(cop[:2], point[:2], atol=1e-12)
    np.testing.assert_allclose(got_free[:2], free[:2], atol=1e-12)
    assert np.isnan(cop[2]).all() and np.isnan(got_free[2])   # 0.2 N < 1 N: undefined


def test_foot_contacts_of_the_built_in_model():
    from simpipe.example.generate import FEET, default_model_path
    from simpipe.example.simdata import foot_contacts

    model = S.simulation_model(default_model_path())
    contacts = foot_contacts(model, FEET)
    assert sorted(contacts["r"]) == ["/forceset/contact_front_r", "/forceset/contact_heel_r"]
    assert sorted(contacts["l"]) == ["/forceset/contact_front_l", "/forceset/contact_heel_l"]


def _check_running(solution, settings, model_path, speed):
    """Flight, stance peak 2-3 BW, symmetric half cycle, mean speed (returns the cycle)."""
    from simpipe.example.simdata import cycle_data

    from simpipe.stages.osimutil import load_model

    data = cycle_data(model_path, solution, settings)
    model = load_model(model_path)
    body_weight = model.getTotalMass(model.initSystem()) * abs(model.getGravity().get(1))
    fy = {side: g.force[:, 1] for side, g in data.grf.items()}
    flight = (fy["r"] < 1.0) & (fy["l"] < 1.0)
    assert 0.15 < flight.mean() < 0.45, flight.mean()            # two flight phases per cycle
    for side in ("r", "l"):
        assert 2.0 < fy[side].max() / body_weight < 3.0, fy[side].max() / body_weight
        stance = fy[side] > 1.0
        assert 0.25 < stance.mean() < 0.45                         # one stance per cycle
        cop = data.grf[side].cop[stance]
        assert np.all(np.isfinite(cop)) and np.allclose(cop[:, 1], 0.0)
    half = S.read_solution(solution)
    for i, name in enumerate(half.state_names):
        if not name.endswith("pelvis_tx/value"):
            j = half.state_names.index(S.mirror_name(name))
            assert abs(half.states[-1, i] - half.states[0, j]) < 1e-3, name
    tx = half.column("/jointset/ground_pelvis/pelvis_tx/value")
    assert abs((tx[-1] - tx[0]) / (half.time[-1] - half.time[0]) - speed) < 0.05
    return data


@pytest.mark.slow
def test_coarse_running_solve_converges_with_flight(tmp_path):
    """The built-in model (CI runs the same solve on the example subject's model:
    tests/test_example_simulated.py::test_fast_build_converges_with_flight_and_reuses_its_solution)."""
    from simpipe.example.generate import default_model_path

    model_path = default_model_path()
    result = S.simulate_running(model_path, tmp_path / "half_cycle.sto", speed=3.4,
                                cycle_time=0.72, settings=S.COARSE)
    assert result.success, result.status
    data = _check_running(result.solution_path, S.COARSE, model_path, 3.4)
    assert data.q.shape == (len(data.time), 10) and data.time[-1] == pytest.approx(0.72)
    assert data.muscles == []                                    # torque-driven


@pytest.mark.slow
def test_full_running_solve_converges_with_flight(tmp_path):
    from simpipe.example.generate import default_model_path

    model_path = default_model_path()
    coarse = S.simulate_running(model_path, tmp_path / "coarse.sto", speed=3.4,
                                cycle_time=0.72, settings=S.COARSE)
    result = S.simulate_running(model_path, tmp_path / "half_cycle.sto", speed=3.4,
                                cycle_time=0.72, settings=S.FULL, warm_start=coarse.solution_path)
    assert result.success, result.status
    _check_running(result.solution_path, S.FULL, model_path, 3.4)
