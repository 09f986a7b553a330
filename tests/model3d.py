"""A small 3D test model with muscles, and a subject recorded on it (test helper).

The model is not simpipe's built-in one on purpose: its bodies, coordinates
and muscles have other names (``thigh_r``, ``hip_flex_r``, ``recfem_r``), so
a study on it only runs through the config's mapping (``muscle_groups``,
``joints``, ``feet``, ``scale.measurements``, ``ik.marker_weights``).

- 7 bodies, 17 coordinates: 6-DOF pelvis, 1-DOF lumbar, 3-DOF hips, knees,
  ankles (CustomJoints, as in Rajagopal et al. 2016); 43 markers.
- Muscles of three classes: ``recfem_*`` and ``vasti_*``
  DeGrooteFregly2016Muscle, ``glmax_*`` Millard2012EquilibriumMuscle,
  ``soleus_*`` and ``gastroc_*`` Thelen2003Muscle (rigid tendons, except
  Thelen's, which OpenSim only has compliant). Optimal
  fiber and tendon slack lengths are set from each path's length range over
  the running motion (normalized fiber length 0.7-1.35), so passive forces
  appear in stretched poses.
- The subject is the model scaled by :data:`TRUE_SCALE`; its trials are made
  from known coordinate curves: a static pose (C3D, no force plates),
  running (C3D, lab z up, mm, two force plates, placeholder half-sine GRF
  that is not dynamically consistent) and quiet standing (TRC + MOT, GRF
  that balances the body exactly, so its residuals pass the quality checks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simpipe.data import Markers, Table
from simpipe.io.grf import grf_columns, write_grf
from simpipe.io.trc import write_trc
from simpipe.stages.osimutil import coordinate_names, load_model, opensim, set_pose

SIDES = ("r", "l")
FEET = {"r": "foot_r", "l": "foot_l"}
CYCLE_S, SPEED, PELVIS_HEIGHT = 0.72, 3.5, 0.95
TRUE_SCALE = 1.05
LAB_TO_OPENSIM = "x,z,-y"
G = 9.80665

#: body -> (mass kg, centre of mass, principal moments of inertia)
BODIES = {"pelvis": (11.0, (-0.05, 0.0, 0.0), (0.10, 0.09, 0.06)),
          "torso": (30.0, (-0.03, 0.32, 0.0), (1.40, 0.70, 1.30)),
          "thigh": (9.0, (0.0, -0.17, 0.0), (0.13, 0.035, 0.14)),
          "shank": (3.6, (0.0, -0.19, 0.0), (0.05, 0.005, 0.05)),
          "foot": (1.2, (0.08, 0.03, 0.0), (0.0014, 0.004, 0.004))}
TRUNK_MARKERS = {
    "pelvis": {"RASI": (0.02, 0.01, 0.12), "LASI": (0.02, 0.01, -0.12), "RPSI": (-0.15, 0.03, 0.045),
               "LPSI": (-0.15, 0.03, -0.045), "SACR": (-0.16, 0.02, 0.0)},
    "torso": {"C7": (-0.08, 0.50, 0.0), "T10": (-0.11, 0.27, 0.0), "CLAV": (0.06, 0.45, 0.0),
              "STRN": (0.10, 0.30, 0.0), "RSHO": (-0.02, 0.47, 0.18), "LSHO": (-0.02, 0.47, -0.18),
              "RFHD": (0.08, 0.72, 0.06), "LFHD": (0.08, 0.72, -0.06), "RBAK": (-0.10, 0.38, 0.08)},
}
#: leg markers, right side (z mirrored on the left)
LEG_MARKERS = {
    "thigh": {"GTR": (0.0, -0.03, 0.07), "THI1": (0.02, -0.20, 0.08), "THI2": (0.06, -0.25, 0.05),
              "KNE": (0.0, -0.41, 0.05), "KNM": (0.0, -0.41, -0.05)},
    "shank": {"TIB1": (0.03, -0.15, 0.05), "TIB2": (0.05, -0.25, 0.02), "FIB": (-0.01, -0.05, 0.05),
              "ANK": (0.0, -0.42, 0.04), "ANM": (0.01, -0.41, -0.04)},
    "foot": {"HEE": (-0.05, 0.03, 0.0), "TOE": (0.19, 0.02, 0.0), "MT1": (0.15, 0.0, -0.035),
             "MT5": (0.14, 0.0, 0.04)},
}
#: muscle -> (class, max isometric force N, path points (body, right-side location))
MUSCLES = {
    "recfem": ("DeGrooteFregly2016Muscle", 1200.0,
               [("pelvis", (0.03, -0.06, 0.09)), ("thigh", (0.05, -0.40, 0.0)), ("shank", (0.04, -0.06, 0.0))]),
    "vasti": ("DeGrooteFregly2016Muscle", 4000.0,
              [("thigh", (0.03, -0.20, 0.02)), ("thigh", (0.05, -0.40, 0.0)), ("shank", (0.04, -0.07, 0.0))]),
    "glmax": ("Millard2012EquilibriumMuscle", 1500.0,
              [("pelvis", (-0.13, 0.02, 0.06)), ("pelvis", (-0.12, -0.08, 0.09)), ("thigh", (-0.03, -0.10, 0.03))]),
    "soleus": ("Thelen2003Muscle", 3500.0, [("shank", (-0.02, -0.15, 0.0)), ("foot", (-0.05, 0.03, 0.0))]),
    "gastroc": ("Thelen2003Muscle", 1500.0, [("thigh", (-0.03, -0.38, 0.02)), ("foot", (-0.05, 0.03, 0.0))]),
}
#: the config mapping that makes simpipe understand this model
MAPPING = {
    "muscle_groups": {"glute": ["glmax_*"], "plantarflexors": ["soleus_*", "gastroc_*"],
                      "rectus_femoris": ["recfem_*"], "quadriceps": ["recfem_*", "vasti_*"]},
    "joints": {"hip": {"r": "hip_flex_r", "l": "hip_flex_l", "extension_sign": -1},
               "knee": {"r": "knee_flex_r", "l": "knee_flex_l", "extension_sign": -1},
               "ankle": {"r": "ankle_flex_r", "l": "ankle_flex_l", "extension_sign": -1}},
    "feet": dict(FEET),
    "scale": {"measurements": {"pelvis": [["RASI", "LASI"], ["RPSI", "LPSI"]], "torso": [["C7", "T10"]],
                               "thigh_r": [["RGTR", "RKNE"]], "thigh_l": [["LGTR", "LKNE"]],
                               "shank_r": [["RFIB", "RANK"]], "shank_l": [["LFIB", "LANK"]],
                               "foot_r": [["RHEE", "RTOE"]], "foot_l": [["LHEE", "LTOE"]]}},
    "ik": {"marker_weights": {"RASI": 10.0, "LASI": 10.0, "RPSI": 10.0, "LPSI": 10.0, "RHEE": 5.0,
                              "LHEE": 5.0, "RFHD": 0.0, "LFHD": 0.0}},
}
_X, _Y, _Z = (1, 0, 0), (0, 1, 0), (0, 0, 1)


def _vec(v):
    return opensim().Vec3(float(v[0]), float(v[1]), float(v[2]))


def _sign(side: str) -> float:
    return 1.0 if side == "r" else -1.0


def _mirror(loc, side: str):
    return (loc[0], loc[1], loc[2] * _sign(side))


def _custom_joint(name, parent, loc, child, rotations, translations=()):
    """CustomJoint with the named rotations (axes), then translations along x, y, z."""
    osim = opensim()
    st = osim.SpatialTransform()
    used = {tuple(abs(c) for c in axis) for _, axis in rotations}
    rot = list(rotations) + [(None, a) for a in (_X, _Y, _Z) if a not in used]
    tra = list(translations) + [(None, a) for a in (_X, _Y, _Z)][len(translations):]
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
        limit = 50.0 if coord.getMotionType() == 2 else math.pi
        coord.setRangeMin(-limit)
        coord.setRangeMax(limit)
        coord.setDefaultClamped(False)
    return joint


def _bodies(model) -> dict:
    osim = opensim()
    out = {}
    for name in ["pelvis", "torso"] + [f"{b}_{s}" for s in SIDES for b in ("thigh", "shank", "foot")]:
        mass, com, inertia = BODIES[name.split("_")[0]]
        out[name] = osim.Body(name, mass, _vec(_mirror(com, name[-1]) if "_" in name else com),
                              osim.Inertia(*inertia))
        model.addBody(out[name])
    return out


def _joints(model, bodies: dict) -> None:
    pelvis = _custom_joint("ground_pelvis", model.getGround(), (0, 0, 0), bodies["pelvis"],
                           [("pelvis_tilt", _Z), ("pelvis_list", _X), ("pelvis_rotation", _Y)],
                           [("pelvis_tx", _X), ("pelvis_ty", _Y), ("pelvis_tz", _Z)])
    pelvis.upd_coordinates(4).setDefaultValue(PELVIS_HEIGHT)
    joints = [pelvis, _custom_joint("back", bodies["pelvis"], (-0.10, 0.08, 0.0), bodies["torso"],
                                    [("lumbar_ext", _Z)])]
    for s in SIDES:
        sg = _sign(s)
        joints += [
            _custom_joint(f"hip_{s}", bodies["pelvis"], (-0.05, -0.08, 0.085 * sg), bodies[f"thigh_{s}"],
                          [(f"hip_flex_{s}", _Z), (f"hip_add_{s}", (sg, 0, 0)), (f"hip_rot_{s}", (0, sg, 0))]),
            _custom_joint(f"knee_{s}", bodies[f"thigh_{s}"], (0, -0.41, 0), bodies[f"shank_{s}"],
                          [(f"knee_flex_{s}", (0, 0, -1))]),
            _custom_joint(f"ankle_{s}", bodies[f"shank_{s}"], (0, -0.42, 0), bodies[f"foot_{s}"],
                          [(f"ankle_flex_{s}", _Z)]),
        ]
    for joint in joints:
        model.addJoint(joint)


def _markers(model, bodies: dict) -> None:
    osim = opensim()
    for body, markers in TRUNK_MARKERS.items():
        for name, loc in markers.items():
            model.addMarker(osim.Marker(name, bodies[body], _vec(loc)))
    for s in SIDES:
        for body, markers in LEG_MARKERS.items():
            for name, loc in markers.items():
                model.addMarker(osim.Marker(f"{s.upper()}{name}", bodies[f"{body}_{s}"], _vec(_mirror(loc, s))))


def _muscles(model, bodies: dict, lengths: dict[str, tuple[float, float]] | None = None) -> None:
    """Add the muscles; ``lengths`` gives (optimal fiber, tendon slack) per muscle (else placeholders)."""
    osim = opensim()
    for s in SIDES:
        for base, (cls, fmax, points) in MUSCLES.items():
            name = f"{base}_{s}"
            l_opt, l_ts = (lengths or {}).get(name, (0.1, 0.2))
            muscle = getattr(osim, cls)()
            muscle.setName(name)
            muscle.set_max_isometric_force(fmax)
            muscle.set_optimal_fiber_length(l_opt)
            muscle.set_tendon_slack_length(l_ts)
            muscle.set_ignore_tendon_compliance(cls != "Thelen2003Muscle")  # Thelen: compliant only
            for k, (body, loc) in enumerate(points):
                key = body if body in bodies else f"{body}_{s}"
                muscle.addNewPathPoint(f"{name}_p{k}", bodies[key], _vec(_mirror(loc, s)))
            model.addForce(muscle)


def _assemble(path: Path, lengths=None) -> Path:
    osim = opensim()
    model = osim.Model()
    model.setName("simpipe_test3d")
    model.setGravity(osim.Vec3(0, -G, 0))
    bodies = _bodies(model)
    _joints(model, bodies)
    _markers(model, bodies)
    _muscles(model, bodies, lengths)
    model.finalizeConnections()
    model.initSystem()
    path.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(path))
    return path


def _calibrated_lengths(model_path: Path) -> dict[str, tuple[float, float]]:
    """(optimal fiber length, tendon slack length) so the fibers span 0.7-1.35 over the running motion."""
    model = load_model(model_path)
    state = model.initSystem()
    coords = coordinate_names(model)
    q = true_coordinates(np.linspace(0, CYCLE_S, 60), coords)
    muscles = model.getMuscles()
    names = [muscles.get(i).getName() for i in range(muscles.getSize())]
    length = np.empty((len(q), len(names)))
    for k in range(len(q)):
        set_pose(model, state, q[k])
        model.realizePosition(state)
        length[k] = [muscles.get(n).getLength(state) for n in names]
    out = {}
    for j, name in enumerate(names):
        lo, hi = length[:, j].min(), length[:, j].max()
        l_opt = max((hi - lo) / 0.65, 0.05)
        out[name] = (l_opt, max(hi - 1.35 * l_opt, 0.02))
    return out


def build_model3d(path: str | Path) -> Path:
    """Write the 3D test model (muscle lengths calibrated to the running motion).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
    """
    path = Path(path)
    draft = _assemble(path.with_name(path.stem + "_draft.osim"))
    return _assemble(path, _calibrated_lengths(draft))


def _leg_curves_deg(phase: np.ndarray, side: str) -> dict[str, np.ndarray]:
    p = phase + (0.0 if side == "r" else math.pi)
    return {f"hip_flex_{side}": 15 + 35 * np.sin(p + 0.2), f"hip_add_{side}": 3 + 6 * np.sin(2 * p),
            f"hip_rot_{side}": 5 * np.sin(p), f"knee_flex_{side}": 45 - 40 * np.cos(p - 0.5) + 10 * np.sin(2 * p),
            f"ankle_flex_{side}": 5 + 20 * np.sin(p + 1.2)}


def true_coordinates(time: np.ndarray, names: list[str], running: bool = True) -> np.ndarray:
    """The known motion (rad, m), shape (n, len(names)); quiet standing when not ``running``."""
    time = np.asarray(time, float)
    if not running:
        values = {"pelvis_ty": PELVIS_HEIGHT * TRUE_SCALE}
        return np.column_stack([np.full(len(time), values.get(n, 0.0)) for n in names])
    phase = 2 * math.pi * time / CYCLE_S
    deg = {"pelvis_tilt": -10 + 3 * np.sin(2 * phase), "pelvis_list": 4 * np.sin(phase),
           "pelvis_rotation": 6 * np.sin(phase + 0.3), "lumbar_ext": -5 + 3 * np.sin(2 * phase + 0.5)}
    for s in SIDES:
        deg.update(_leg_curves_deg(phase, s))
    lin = {"pelvis_tx": SPEED * time, "pelvis_ty": PELVIS_HEIGHT + 0.03 * np.cos(2 * phase),
           "pelvis_tz": 0.02 * np.sin(phase)}
    return np.column_stack([lin[n] if n in lin else np.radians(deg[n]) for n in names])


def true_model(generic: Path, out: Path, mass_kg: float) -> Path:
    """The subject: the generic model scaled by :data:`TRUE_SCALE`, total mass ``mass_kg``."""
    osim = opensim()
    model = load_model(generic)
    state = model.initSystem()
    scales = osim.ScaleSet()
    bodies = model.getBodySet()
    for i in range(bodies.getSize()):
        sc = osim.Scale()
        sc.setSegmentName(bodies.get(i).getName())
        sc.setScaleFactors(osim.Vec3(TRUE_SCALE))
        sc.setApply(True)
        scales.cloneAndAppend(sc)
    model.scale(state, scales, True, mass_kg)
    model.printToXML(str(out))
    return out


def model_markers(model_path: Path, q: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Marker positions in ground (m), shape (n, n_markers, 3)."""
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


def _mass_centre(model_path: Path, q: np.ndarray) -> np.ndarray:
    model = load_model(model_path)
    state = model.initSystem()
    set_pose(model, state, q)
    model.realizePosition(state)
    c = model.calcMassCenterPosition(state)
    return np.array([c.get(0), c.get(1), c.get(2)])


def running_grf(time: np.ndarray, markers: Markers, weight_n: float) -> Table:
    """Placeholder half-sine stance forces under each heel (not dynamically consistent)."""
    cols, labels = [], []
    for s in SIDES:
        p = (time / CYCLE_S + (0.0 if s == "r" else 0.5)) % 1.0
        stance = p < 0.38
        shape = np.where(stance, np.sin(math.pi * p / 0.38), 0.0)
        force = np.column_stack([-0.3 * weight_n * np.sin(2 * math.pi * p / 0.38) * stance,
                                 2.5 * weight_n * shape, 0.05 * weight_n * shape])
        heel = markers.marker(f"{s.upper()}HEE").copy() * stance[:, None]
        heel[:, 1] = 0.0
        cols += [force, heel, np.zeros((len(time), 3))]
        labels += grf_columns(s)
    return Table(time, labels, np.column_stack(cols))


def standing_grf(time: np.ndarray, markers: Markers, weight_n: float, com: np.ndarray) -> Table:
    """Half the body weight under each foot, in line with the mass centre: zero residuals."""
    cols, labels = [], []
    for s in SIDES:
        cop = np.array([com[0], 0.0, markers.marker(f"{s.upper()}HEE")[0, 2]])
        force = np.tile([0.0, weight_n / 2, 0.0], (len(time), 1))
        cols += [force, np.tile(cop, (len(time), 1)), np.zeros((len(time), 3))]
        labels += grf_columns(s)
    return Table(time, labels, np.column_stack(cols))


@dataclass
class Subject3D:
    """Files of the 3D test subject."""

    folder: Path
    model: Path
    true_model: Path
    mass_kg: float
    static_c3d: Path
    run_c3d: Path
    stand_trc: Path
    stand_grf: Path
    run_markers: Markers
    run_grf: Table


def make_subject(folder: str | Path, noise_mm: float = 1.0, seed: int = 0) -> Subject3D:
    """Build the model and the subject's static, running and standing trials in ``folder``.

    Returns
    -------
    Subject3D
    """
    from c3dfiles import PlateSpec, write_c3d
    from simpipe.io.c3d import parse_rotation

    folder = Path(folder)
    model = build_model3d(folder / "model3d.osim")
    mass = 2 * sum(BODIES[b][0] for b in ("thigh", "shank", "foot")) + BODIES["pelvis"][0] + BODIES["torso"][0]
    truth = true_model(model, folder / "model3d_true.osim", mass)
    coords = coordinate_names(load_model(model))
    rng = np.random.default_rng(seed)
    rot = parse_rotation(LAB_TO_OPENSIM)
    still = np.arange(40) / 100.0
    q_still = true_coordinates(still, coords, running=False)
    names, xyz = model_markers(truth, q_still)
    static = Markers(still, names, xyz + rng.normal(0, noise_mm / 1000, xyz.shape))
    static_c3d = write_c3d(folder / "static.c3d", static, None, rot)
    run_t = np.arange(51) / 100.0
    names, xyz = model_markers(truth, true_coordinates(run_t, coords))
    grf = running_grf(run_t, Markers(run_t, names, xyz), mass * G)
    run = Markers(run_t, names, xyz + rng.normal(0, noise_mm / 1000, xyz.shape))
    plates = [PlateSpec((0.45, 0.0), size=(1.1, 0.6), kind=2),
              PlateSpec((1.7, 0.0), size=(1.0, 0.6), kind=4, yaw_deg=180, origin_sign=-1, on_plate=False)]
    run_c3d = write_c3d(folder / "run.c3d", run, grf, rot, plates, ratio=10)
    stand_markers = Markers(still, names, model_markers(truth, q_still)[1])
    stand_trc = write_trc(stand_markers, folder / "stand.trc")
    stand_grf = write_grf(standing_grf(np.arange(401) / 1000.0, stand_markers, mass * G,
                                       _mass_centre(truth, q_still[0])), folder / "stand_grf.mot")
    return Subject3D(folder, model, truth, mass, static_c3d, run_c3d, Path(stand_trc), Path(stand_grf), run, grf)


def study_config(subject: Subject3D, out: Path, values=(1.0, 2.0), **extra) -> dict:
    """The study config (as a dict) of the 3D subject, mapping included."""
    cfg = {"name": "model3d", "model": {"path": str(subject.model)}, **MAPPING,
           "subjects": [{"id": "s3d", "mass_kg": subject.mass_kg, "height_m": 1.75,
                         "static": str(subject.static_c3d),
                         "trials": [{"id": "run", "c3d": str(subject.run_c3d)},
                                    {"id": "stand", "markers": str(subject.stand_trc),
                                     "grf": str(subject.stand_grf)}]}],
           "sweep": {"muscles": ["rectus_femoris", "glute", "plantarflexors"],
                     "property": "passive_stiffness_multiplier", "values": list(values)},
           "filter": {"coordinates_hz": 8.0},
           "c3d": {"lab_to_opensim": LAB_TO_OPENSIM},
           "output": str(out), "cluster": {"kind": "local", "n_workers": 2, "retries": 0}}
    cfg.update(extra)
    return cfg


_SESSION: dict = {}


def subject3d(tmp_path_factory) -> Subject3D:
    """The 3D subject's files, built once per test session."""
    if "subject" not in _SESSION:
        _SESSION["subject"] = make_subject(tmp_path_factory.mktemp("subject3d"))
    return _SESSION["subject"]


def study3d(tmp_path_factory):
    """The 3D study, run once per test session: (config path, StudyResult)."""
    if "study" not in _SESSION:
        import yaml

        from simpipe.run.study import run_study

        subject = subject3d(tmp_path_factory)
        folder = tmp_path_factory.mktemp("study3d")
        path = folder / "study.yaml"
        path.write_text(yaml.safe_dump(study_config(subject, folder / "out"), sort_keys=False))
        _SESSION["study"] = (path, run_study(path))
    return _SESSION["study"]
