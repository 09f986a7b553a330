"""OpenSim's own tool route, scripted the way labs script it.

Each step writes a setup XML into a folder of its own (absolute paths, so no
``os.chdir``), then loads the tool from that XML and runs it, as
``opensim-cmd run-tool setup.xml`` would (in-process here, which spares the
tool route a process start per step). Results are read back from the files
the tools write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simpipe.io.grf import write_external_loads_xml
from simpipe.io.sto import read_sto
from simpipe.io.trc import read_trc
from simpipe.stages.osimutil import load_model, opensim


def _strings(values) -> "opensim.ArrayStr":
    osim = opensim()
    arr = osim.ArrayStr()
    for v in values:
        arr.append(str(v))
    return arr


def _check_output(ok: bool, path: Path, tool: str) -> Path:
    # InverseKinematicsTool.run() returns True even when it wrote nothing (FACTS.md).
    if not ok or not path.is_file():
        raise RuntimeError(f"{tool} did not write {path}")
    return path


# --- setup files ---------------------------------------------------------------

def write_ik_setup(model: Path, trc: Path, out_dir: Path, weights: dict | None = None,
                   accuracy: float = 1e-6) -> Path:
    """IK setup XML: every marker of the trial with weight 1 unless ``weights`` says otherwise."""
    osim = opensim()
    out_dir.mkdir(parents=True, exist_ok=True)
    markers = read_trc(trc)
    tool = osim.InverseKinematicsTool()
    tool.setName("ik")
    tool.set_model_file(str(model))
    tool.setMarkerDataFileName(str(trc))
    tool.setStartTime(float(markers.time[0]))
    tool.setEndTime(float(markers.time[-1]))
    tool.set_accuracy(accuracy)
    tool.setResultsDir(str(out_dir))
    tool.setOutputMotionFileName(str(out_dir / "ik.mot"))
    tasks = tool.getIKTaskSet()
    for name in markers.names:
        task = osim.IKMarkerTask()
        task.setName(name)
        task.setWeight(float((weights or {}).get(name, 1.0)))
        task.setApply(True)
        tasks.cloneAndAppend(task)
    setup = out_dir / "ik_setup.xml"
    tool.printToXML(str(setup))
    return setup


def excluded_forces(model: Path) -> list[str]:
    """'Muscles' plus every other force that is not an external load (contact spheres)."""
    osim_model = load_model(model)  # keep a reference: the force set lives inside it
    fs = osim_model.getForceSet()
    others = [fs.get(i).getName() for i in range(fs.getSize())
              if fs.get(i).getConcreteClassName() not in ("ExternalForce", "PrescribedForce")
              and opensim().Muscle.safeDownCast(fs.get(i)) is None]
    return ["Muscles"] + others


def write_id_setup(model: Path, mot: Path, grf_mot: Path, feet: dict, out_dir: Path,
                   cutoff_hz: float | None, exclude: list[str]) -> Path:
    """ID setup XML and its ExternalLoads XML (GRF applied to the feet)."""
    osim = opensim()
    out_dir.mkdir(parents=True, exist_ok=True)
    loads = write_external_loads_xml(out_dir / "external_loads.xml", grf_mot, feet)
    time = read_sto(mot).time
    tool = osim.InverseDynamicsTool()
    tool.setName("id")
    tool.setModelFileName(str(model))
    tool.setCoordinatesFileName(str(mot))
    tool.setExternalLoadsFileName(str(loads))
    tool.setLowpassCutoffFrequency(-1.0 if cutoff_hz is None else float(cutoff_hz))
    tool.setStartTime(float(time[0]))
    tool.setEndTime(float(time[-1]))
    tool.setResultsDir(str(out_dir))
    tool.setOutputGenForceFileName("id.sto")
    tool.setExcludedForces(_strings(exclude))
    setup = out_dir / "id_setup.xml"
    tool.printToXML(str(setup))
    return setup


def write_scale_setup(generic: Path, static_trc: Path, mass_kg: float, height_m: float,
                      measurements: dict, out_dir: Path) -> Path:
    """ScaleTool setup XML: the same measurements and marker placement as simpipe's scale stage."""
    from simpipe.stages.scale import _configure_tool  # the same settings as simpipe, written to XML

    out_dir.mkdir(parents=True, exist_ok=True)
    tool = _configure_tool(generic, static_trc, read_trc(static_trc), mass_kg, height_m, measurements,
                           {}, out_dir / "scaled.osim", out_dir)
    setup = out_dir / "scale_setup.xml"
    tool.printToXML(str(setup))
    return setup


def write_analyze_setup(model: Path, mot: Path, muscles: list[str], out_dir: Path) -> Path:
    """AnalyzeTool setup XML with a MuscleAnalysis of ``muscles`` (no moment arms)."""
    osim = opensim()
    out_dir.mkdir(parents=True, exist_ok=True)
    time = read_sto(mot).time
    tool = osim.AnalyzeTool()
    tool.setName("passive")
    tool.setModelFilename(str(model))
    tool.setCoordinatesFileName(str(mot))
    tool.setLowpassCutoffFrequency(-1.0)
    tool.setInitialTime(float(time[0]))
    tool.setFinalTime(float(time[-1]))
    tool.setSolveForEquilibrium(True)
    tool.setResultsDir(str(out_dir))
    analysis = osim.MuscleAnalysis()
    analysis.setMuscles(_strings(muscles))
    analysis.setComputeMoments(False)
    analysis.setStartTime(float(time[0]))
    analysis.setEndTime(float(time[-1]))
    tool.getAnalysisSet().cloneAndAppend(analysis)
    setup = out_dir / "analyze_setup.xml"
    tool.printToXML(str(setup))
    return setup


def write_variant_model(generic: Path, muscles: list[str], strain: float, out: Path) -> Path:
    """The generic model with ``passive_fiber_strain_at_one_norm_force`` set on ``muscles``."""
    osim = opensim()
    model = load_model(generic)
    for name in muscles:
        muscle = osim.DeGrooteFregly2016Muscle.safeDownCast(model.updMuscles().get(name))
        muscle.set_passive_fiber_strain_at_one_norm_force(float(strain))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.printToXML(str(out))
    return out


# --- running them -------------------------------------------------------------------

def run_ik(setup: Path) -> Path:
    """Run InverseKinematicsTool from its setup XML; returns the motion file."""
    osim = opensim()
    tool = osim.InverseKinematicsTool(str(setup))
    return _check_output(tool.run(), Path(tool.getOutputMotionFileName()), "InverseKinematicsTool")


def run_id(setup: Path) -> Path:
    """Run InverseDynamicsTool from its setup XML; returns the generalized-force file."""
    osim = opensim()
    tool = osim.InverseDynamicsTool(str(setup))
    return _check_output(tool.run(), Path(tool.getResultsDir()) / tool.getOutputGenForceFileName(),
                         "InverseDynamicsTool")


def run_scale(setup: Path) -> Path:
    """Run ScaleTool from its setup XML; returns the scaled model."""
    osim = opensim()
    tool = osim.ScaleTool(str(setup))
    # Loaded from a file, ScaleTool prefixes the setup's folder even to absolute
    # paths ('<dir>//abs/static.trc'); labs use relative paths, we clear the prefix.
    tool.setPathToSubject("")
    out = Path(tool.getMarkerPlacer().getOutputModelFileName())
    return _check_output(tool.run(), out, "ScaleTool")


def run_analyze(setup: Path) -> Path:
    """Run AnalyzeTool from its setup XML; returns the passive fiber force file."""
    osim = opensim()
    tool = osim.AnalyzeTool(str(setup))
    out = Path(tool.getResultsDir()) / f"{tool.getName()}_MuscleAnalysis_PassiveFiberForce.sto"
    return _check_output(tool.run(), out, "AnalyzeTool")


# --- reading results ------------------------------------------------------------------

def read_coordinates(mot: Path, coordinates: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Time and coordinates (rad, m) from a .mot file, in the given order."""
    table = read_sto(mot)
    q = np.column_stack([table.column(c) for c in coordinates])
    if table.in_degrees:
        rot = np.array([not c.endswith(("_tx", "_ty", "_tz")) for c in coordinates])
        q[:, rot] = np.radians(q[:, rot])
    return table.time, q


def read_generalized_forces(sto: Path, coordinates: list[str], time: np.ndarray) -> np.ndarray:
    """ID tool results in the given coordinate order, interpolated onto ``time``.

    The tool writes ``<coordinate>_moment`` or ``_force`` columns on its own
    (resampled) time grid.
    """
    table = read_sto(sto)
    cols = [c for c in table.labels if c != "time"]
    out = []
    for name in coordinates:
        col = next(c for c in cols if c in (f"{name}_moment", f"{name}_force"))
        out.append(np.interp(time, table.time, table.column(col)))
    return np.column_stack(out)
