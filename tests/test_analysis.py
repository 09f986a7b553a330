"""Stance detection and joint-work shares against hand-computed answers."""

import numpy as np
import pytest

from simpipe.analysis.phases import propulsive_mask, stance_phases
from simpipe.analysis.work import extensor_positive_work, joint_work


def test_stance_phases_find_contacts_and_flag_incomplete():
    t = np.linspace(0, 1, 1001)
    fz = np.where((t > 0.2) & (t < 0.45), 1500.0, 0.0) + np.where(t > 0.9, 900.0, 0.0)
    fz[600] = 100.0  # a one-sample spike is noise, not a stance
    st = stance_phases(t, fz, "r", threshold_n=20)
    assert len(st) == 2
    assert st[0].start == pytest.approx(0.201) and st[0].end == pytest.approx(0.449)
    assert st[0].complete and not st[1].complete


def test_propulsive_mask_follows_fore_aft_sign_and_direction():
    t = np.linspace(0, 1, 101)
    fz = np.where((t >= 0.2) & (t <= 0.6), 1000.0, 0.0)
    fx = np.where(t < 0.4, -100.0, 100.0)
    (st,) = stance_phases(t, fz, "r")
    fwd = propulsive_mask(t, fx, st, forward_sign=1.0)
    assert t[fwd].min() == pytest.approx(0.4) and t[fwd].max() == pytest.approx(0.6)
    back = propulsive_mask(t, fx, st, forward_sign=-1.0)
    assert t[back].min() == pytest.approx(0.2) and t[back].max() == pytest.approx(0.39)


def test_extensor_work_counts_only_positive_extensor_power():
    t = np.linspace(0, 1, 100001)
    # extension is the negative direction: extensor moment = -M
    moment = -10.0 * np.ones_like(t)       # 10 N m extensor moment
    speed = np.where(t < 0.5, -2.0, 2.0)   # extending (positive power) then flexing (negative)
    w = extensor_positive_work(t, moment, speed, -1.0, np.ones_like(t, bool))
    assert w == pytest.approx(10.0, rel=1e-3)  # 10 N m * 2 rad/s * 0.5 s
    # a flexor moment doing positive work is not extensor work
    assert extensor_positive_work(t, -moment, -speed, -1.0, np.ones_like(t, bool)) == 0.0


def test_joint_work_shares_add_up():
    t = np.linspace(0, 1, 10001)
    fz = {"r": np.where((t > 0.1) & (t < 0.9), 1000.0, 0.0)}
    fx = {"r": np.where(t > 0.5, 50.0, -50.0)}
    st = stance_phases(t, fz["r"], "r")
    ones = np.ones_like(t)
    moments = {"hip": {"r": -30 * ones}, "knee": {"r": -10 * ones}, "ankle": {"r": -60 * ones}}
    speeds = {"hip": {"r": -1 * ones}, "knee": {"r": -1 * ones}, "ankle": {"r": -1 * ones}}
    jw = joint_work(t, moments, speeds, {"hip": -1, "knee": -1, "ankle": -1}, fx, st)
    assert jw.n_stances == 1
    assert jw.share("hip") == pytest.approx(0.3, rel=1e-3)
    assert jw.share("ankle") == pytest.approx(0.6, rel=1e-3)
    assert sum(jw.share(j) for j in jw.joints) == pytest.approx(1.0)
    assert jw.work_j[2] == pytest.approx(60 * 0.4, rel=1e-2)  # propulsive 0.5..0.9 s
