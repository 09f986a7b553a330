"""A small 3D benchmark model and a long synthetic running trial with a known truth.

The model has 8 bodies and 21 coordinates: a 6-DOF pelvis, a 3-DOF lumbar
joint, 3-DOF hips (CustomJoints, as in gait2392 and Rajagopal et al. 2016),
1-DOF knees and 2-DOF ankles (ankle + subtalar), and 53 markers placed like a
full-body lab marker set. Segment masses, lengths and inertias are round
adult values close to de Leva (1996); the model has no muscles (IK and ID do
not use them).

The trial is made from known coordinate curves (running-like cycles of
0.72 s, 3.5 m/s) sampled at 120 Hz; markers are the model's own markers at
those poses plus Gaussian noise, and the ground reaction force is a smooth
placeholder (half-sine vertical force under the stance foot). Neither route
in the benchmark knows the truth; it is kept to show both recover it.

Usage::

    python benchmarks/model3d.py OUT_DIR [--frames 720]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simpipe.data import Markers, Table
from simpipe.io.grf import grf_columns, write_external_loads_xml, write_grf
from simpipe.io.trc import write_trc
from simpipe.stages.osimutil import coordinate_names, load_model, opensim, set_pose

SIDES = ("r", "l")
FEET = {"r": "calcn_r", "l": "calcn_l"}
CYCLE_S = 0.72
SPEED = 3.5
PELVIS_HEIGHT = 0.95

#: body -> (mass kg, centre of mass, principal inertia kg m^2)
BODIES = {
    "pelvis": (11.0, (-0.05, 0.0, 0.0), (0.10, 0.09, 0.06)),
    "torso": (30.0, (-0.03, 0.32, 0.0), (1.40, 0.70, 1.30)),
    "femur": (9.0, (0.0, -0.17, 0.0), (0.13, 0.035, 0.14)),
    "tibia": (3.6, (0.0, -0.19, 0.0), (0.05, 0.005, 0.05)),
    "calcn": (1.2, (0.10, 0.03, 0.0), (0.0014, 0.004, 0.004)),
}

#: marker -> location; leg markers use +z for the right side (flipped for the left).
TRUNK_MARKERS = {
    "pelvis": {"RASI": (0.02, 0.01, 0.12), "LASI": (0.02, 0.01, -0.12),
               "RPSI": (-0.15, 0.03, 0.045), "LPSI": (-0.15, 0.03, -0.045),
               "SACR": (-0.16, 0.02, 0.0), "RILC": (-0.04, 0.07, 0.14),
               "LILC": (-0.04, 0.07, -0.14)},
    "torso": {"C7": (-0.08, 0.50, 0.0), "T10": (-0.11, 0.27, 0.0), "CLAV": (0.06, 0.45, 0.0),
              "STRN": (0.10, 0.30, 0.0), "RSHO": (-0.02, 0.47, 0.18), "LSHO": (-0.02, 0.47, -0.18),
              "RBAK": (-0.10, 0.38, 0.08), "LBAK": (-0.10, 0.33, -0.07),
              "RFHD": (0.08, 0.72, 0.06), "LFHD": (0.08, 0.72, -0.06),
              "RBHD": (-0.08, 0.70, 0.06), "LBHD": (-0.08, 0.70, -0.06)},
}
LEG_MARKERS = {
    "femur": {"GTR": (0.0, -0.03, 0.07), "THI1": (0.02, -0.20, 0.08), "THI2": (0.06, -0.25, 0.05),
              "THI3": (-0.03, -0.30, 0.07), "KNE": (0.0, -0.41, 0.05), "KNM": (0.0, -0.41, -0.05)},
    "tibia": {"TIB1": (0.03, -0.15, 0.05), "TIB2": (0.05, -0.25, 0.02), "TIB3": (0.0, -0.30, 0.05),
              "FIB": (-0.01, -0.05, 0.05), "ANK": (0.0, -0.42, 0.04), "ANM": (0.01, -0.41, -0.04)},
    "calcn": {"HEE": (-0.05, 0.03, 0.0), "TOE": (0.19, 0.02, 0.0), "MT1": (0.15, 0.0, -0.035),
              "MT5": (0.14, 0.0, 0.04), "MT2": (0.17, 0.04, 0.0)},
}

_ROT_X, _ROT_Y, _ROT_Z, _ROT_MZ = (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, -1)


@dataclass
class Trial3D:
    """Files and truth of the synthetic 3D trial.

    Attributes
    ----------
    model, trc, grf, external_loads : Path
    time : ndarray, shape (n,)
    coordinates : list of str
    q : ndarray, shape (n, n_coordinates)
        True coordinates (rad, m).
    """

    model: Path
    trc: Path
    grf: Path
    external_loads: Path
    time: np.ndarray
    coordinates: list[str]
    q: np.ndarray


def _vec(v):
    osim = opensim()
    return osim.Vec3(float(v[0]), float(v[1]), float(v[2]))


def _custom_joint(name, parent, loc, child, rotations, translations=()):
    """CustomJoint with the given rotation axes (then translations along x, y, z)."""
    osim = opensim()
    st = osim.SpatialTransform()
    used = {tuple(abs(c) for c in axis) for _, axis in rotations}
    rot = list(rotations) + [(None, a) for a in (_ROT_X, _ROT_Y, _ROT_Z) if a not in used]
    tra = list(translations) + [(None, a) for a in (_ROT_X, _ROT_Y, _ROT_Z)][len(translations):]
    for i, (coord, axis) in enumerate(rot + tra):
        ta = st.updTransformAxis(i)
        ta.setAxis(_vec(axis))
        if coord is None:
            ta.set_function(osim.Constant(0.0))
            continue
        names = osim.ArrayStr()
        names.append(coord)
        ta.setCoordinateNames(names)
        ta.set_function(osim.LinearFunction(1.0, 0.0))
    joint = osim.CustomJoint(name, parent, _vec(loc), osim.Vec3(0), child, osim.Vec3(0), osim.Vec3(0), st)
    joint.finalizeFromProperties()
    for i in range(joint.numCoordinates()):
        coord = joint.upd_coordinates(i)
        coord.setRangeMin(-50.0 if coord.getMotionType() == 2 else -math.pi)
        coord.setRangeMax(50.0 if coord.getMotionType() == 2 else math.pi)
        coord.setDefaultClamped(False)
    return joint


def _add_bodies(model) -> dict:
    osim = opensim()
    bodies = {}
    for name in ["pelvis", "torso"] + [f"{b}_{s}" for s in SIDES for b in ("femur", "tibia", "calcn")]:
        mass, com, inertia = BODIES[name.split("_")[0]]
        body = osim.Body(name, mass, _vec(com), osim.Inertia(*inertia))
        model.addBody(body)
        bodies[name] = body
    return bodies


def _add_joints(model, bodies: dict) -> None:
    ground = model.getGround()
    pelvis = _custom_joint("ground_pelvis", ground, (0, 0, 0), bodies["pelvis"],
                           [("pelvis_tilt", _ROT_Z), ("pelvis_list", _ROT_X), ("pelvis_rotation", _ROT_Y)],
                           [("pelvis_tx", _ROT_X), ("pelvis_ty", _ROT_Y), ("pelvis_tz", _ROT_Z)])
    pelvis.upd_coordinates(4).setDefaultValue(PELVIS_HEIGHT)
    joints = [pelvis, _custom_joint("back", bodies["pelvis"], (-0.10, 0.08, 0.0), bodies["torso"],
                                    [("lumbar_extension", _ROT_Z), ("lumbar_bending", _ROT_X),
                                     ("lumbar_rotation", _ROT_Y)])]
    for s in SIDES:
        sign = 1.0 if s == "r" else -1.0
        joints += [
            _custom_joint(f"hip_{s}", bodies["pelvis"], (-0.05, -0.08, 0.085 * sign), bodies[f"femur_{s}"],
                          [(f"hip_flexion_{s}", _ROT_Z), (f"hip_adduction_{s}", (sign, 0, 0)),
                           (f"hip_rotation_{s}", (0, sign, 0))]),
            _custom_joint(f"knee_{s}", bodies[f"femur_{s}"], (0, -0.41, 0), bodies[f"tibia_{s}"],
                          [(f"knee_angle_{s}", _ROT_MZ)]),
            _custom_joint(f"ankle_{s}", bodies[f"tibia_{s}"], (0, -0.42, 0), bodies[f"calcn_{s}"],
                          [(f"ankle_angle_{s}", _ROT_Z), (f"subtalar_angle_{s}", (sign, 0, 0))]),
        ]
    for joint in joints:
        model.addJoint(joint)


def _add_markers(model, bodies: dict) -> None:
    osim = opensim()
    for body, markers in TRUNK_MARKERS.items():
        for name, loc in markers.items():
            model.addMarker(osim.Marker(name, bodies[body], _vec(loc)))
    for s in SIDES:
        sign = 1.0 if s == "r" else -1.0
        for body, markers in LEG_MARKERS.items():
            for name, (x, y, z) in markers.items():
                model.addMarker(osim.Marker(f"{s.upper()}{name}", bodies[f"{body}_{s}"], _vec((x, y, z * sign))))


def build_model3d(path: str | Path) -> Path:
    """Write the 3D benchmark model.

    Parameters
    ----------
    path : str or Path
        Destination .osim file.

    Returns
    -------
    Path
    """
    osim = opensim()
    model = osim.Model()
    model.setName("simpipe_bench3d")
    model.setGravity(osim.Vec3(0, -9.80665, 0))
    bodies = _add_bodies(model)
    _add_joints(model, bodies)
    _add_markers(model, bodies)
    model.finalizeConnections()
    model.initSystem()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(path))
    return path


def total_mass() -> float:
    """Mass of the whole model (kg)."""
    legs = sum(BODIES[b][0] for b in ("femur", "tibia", "calcn"))
    return BODIES["pelvis"][0] + BODIES["torso"][0] + 2 * legs


def _curves_deg(phase: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """Joint angles (deg) of one leg; the left leg is half a cycle later."""
    p = phase + (0.0 if side == "r" else math.pi)
    return {f"hip_flexion_{side}": 15 + 35 * np.sin(p + 0.2),
            f"hip_adduction_{side}": 3 + 6 * np.sin(2 * p),
            f"hip_rotation_{side}": 5 * np.sin(p),
            f"knee_angle_{side}": 45 - 40 * np.cos(p - 0.5) + 10 * np.sin(2 * p),
            f"ankle_angle_{side}": 5 + 20 * np.sin(p + 1.2),
            f"subtalar_angle_{side}": 5 * np.sin(p)}


def true_coordinates(time: np.ndarray, names: list[str]) -> np.ndarray:
    """The known motion, shape (n, len(names)), rad and m.

    Parameters
    ----------
    time : ndarray
    names : list of str
        The model's coordinate names.
    """
    phase = 2 * math.pi * time / CYCLE_S
    deg = {"pelvis_tilt": -10 + 3 * np.sin(2 * phase), "pelvis_list": 4 * np.sin(phase),
           "pelvis_rotation": 6 * np.sin(phase + 0.3), "lumbar_extension": -5 + 3 * np.sin(2 * phase + 0.5),
           "lumbar_bending": 3 * np.sin(phase), "lumbar_rotation": 8 * np.sin(phase + 1.0)}
    for s in SIDES:
        deg.update(_curves_deg(phase, s))
    lin = {"pelvis_tx": SPEED * time, "pelvis_ty": PELVIS_HEIGHT + 0.03 * np.cos(2 * phase),
           "pelvis_tz": 0.02 * np.sin(phase)}
    cols = [lin[n] if n in lin else np.radians(deg[n]) for n in names]
    return np.column_stack(cols)


def model_markers(model_path: Path, q: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Marker positions in ground (m) at each pose, shape (n, n_markers, 3)."""
    model = load_model(model_path)
    state = model.initSystem()
    ms = model.getMarkerSet()
    names = [ms.get(i).getName() for i in range(ms.getSize())]
    xyz = np.empty((len(q), len(names), 3))
    for k in range(len(q)):
        set_pose(model, state, q[k])
        model.realizePosition(state)
        for j in range(len(names)):
            p = ms.get(j).getLocationInGround(state)
            xyz[k, j] = (p.get(0), p.get(1), p.get(2))
    return names, xyz


def placeholder_grf(time: np.ndarray, markers: Markers, body_weight_n: float) -> Table:
    """Half-sine stance forces under each heel (not dynamically consistent).

    Parameters
    ----------
    time : ndarray
    markers : Markers
        Noise-free markers (the centre of pressure follows the heel marker).
    body_weight_n : float
    """
    cols, labels = [], []
    for s in SIDES:
        p = (time / CYCLE_S + (0.0 if s == "r" else 0.5)) % 1.0
        stance = p < 0.38
        shape = np.where(stance, np.sin(math.pi * p / 0.38), 0.0)
        force = np.column_stack([-0.3 * body_weight_n * np.sin(2 * math.pi * p / 0.38) * stance,
                                 2.5 * body_weight_n * shape, 0.05 * body_weight_n * shape])
        heel = markers.marker(f"{s.upper()}HEE").copy()
        heel[:, 1] = 0.0
        cols += [force, heel, np.zeros((len(time), 3))]
        labels += grf_columns(s)
    return Table(time, labels, np.column_stack(cols))


def synthesize_trial(out_dir: str | Path, n_frames: int = 720, rate: float = 120.0,
                     noise_mm: float = 2.0, seed: int = 0) -> Trial3D:
    """Build the model and a trial of ``n_frames`` frames in ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
    n_frames : int
    rate : float
        Marker rate (Hz).
    noise_mm : float
        Standard deviation of the Gaussian noise added to every marker coordinate.
    seed : int

    Returns
    -------
    Trial3D
    """
    out = Path(out_dir)
    model_path = build_model3d(out / "bench3d.osim")
    model = load_model(model_path)
    coords = coordinate_names(model)
    time = np.arange(n_frames) / rate
    q = true_coordinates(time, coords)
    names, xyz = model_markers(model_path, q)
    clean = Markers(time, names, xyz)
    noisy = xyz + np.random.default_rng(seed).normal(0.0, noise_mm / 1000.0, xyz.shape)
    trc = write_trc(Markers(time, names, noisy), out / "run3d.trc")
    mass = total_mass()
    grf = write_grf(placeholder_grf(time, clean, mass * 9.80665), out / "run3d_grf.mot")
    loads = write_external_loads_xml(out / "run3d_external_loads.xml", grf, FEET)
    return Trial3D(model_path, trc, grf, Path(loads), time, coords, q)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir")
    parser.add_argument("--frames", type=int, default=720)
    args = parser.parse_args()
    trial = synthesize_trial(args.out_dir, args.frames)
    print(f"wrote {trial.model}, {trial.trc} ({len(trial.time)} frames), {trial.grf}")


if __name__ == "__main__":
    main()
