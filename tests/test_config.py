"""Study config validation: clear one-line errors for bad configs."""

import pytest

from simpipe.config import config_hash, load_study, parse_study
from simpipe.errors import ConfigError

GOOD = """
name: t
model: {builtin: simpipe_run2d}
subjects:
  - id: s1
    mass_kg: 70
    height_m: 1.75
    static: static.trc
    trials:
      - {id: r1, markers: r1.trc, grf: r1.mot}
sweep:
  values: [0.6, 0.4]
output: out
"""


@pytest.fixture
def folder(tmp_path):
    for name in ("static.trc", "r1.trc", "r1.mot"):
        (tmp_path / name).write_text("x")
    return tmp_path


def parse(text, folder, **kw):
    return parse_study(text, folder / "study.yaml", **kw)


def test_good_config_resolves_paths_against_the_file(folder):
    study = parse(GOOD, folder)
    assert study.subjects[0].static == (folder / "static.trc").resolve()
    assert study.output == (folder / "out").resolve()
    assert study.stages == ["scale", "ik", "id", "joint_work", "passive"]
    assert study.groups["glute"] == ["glut_max_*"]


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("name: t", "name: t\nworkers: 3"), ["unknown key 'workers'"]),
    (lambda t: t.replace("sweep:", "sweep:\n  valuez: [1]"), ["unknown key 'sweep.valuez'"]),
    (lambda t: t.replace("mass_kg: 70", "mass_kg: -70"), ["subjects.0.mass_kg", "-70", "greater than 0"]),
    (lambda t: t.replace("height_m: 1.75", "height_m: tall"), ["subjects.0.height_m", "tall"]),
    (lambda t: t.replace("static: static.trc", "static: nothere.trc"), ["subjects.0.static", "file not found", "nothere.trc"]),
    (lambda t: t.replace("  values: [0.6, 0.4]", "  values: []"), ["sweep.values"]),
    (lambda t: t.replace("model: {builtin: simpipe_run2d}", "model: {builtin: gait2392}"), ["model.builtin", "gait2392"]),
    (lambda t: t.replace("model: {builtin: simpipe_run2d}", "model: {}"), ["model", "exactly one"]),
    (lambda t: t + "stages: [ik, optimize]\n", ["stages", "optimize", "known stages"]),
    (lambda t: t + "stages: [joint_work]\n", ["joint_work", "needs"]),
    (lambda t: t.replace("output: out", ""), ["missing required key 'output'"]),
    (lambda t: t + "cluster: {n_workers: 0}\n", ["cluster.n_workers"]),
    (lambda t: t.replace("  values: [0.6, 0.4]", "  values: [0.6, 0.6]"), ["distinct"]),
    (lambda t: "name: [unclosed", ["not valid YAML"]),
])
def test_bad_configs_name_the_problem(folder, edit, words):
    with pytest.raises(ConfigError) as err:
        parse(edit(GOOD), folder)
    msg = str(err.value)
    assert "\n" not in msg
    assert "study.yaml" in msg
    for w in words:
        assert w in msg


def test_missing_study_file(tmp_path):
    with pytest.raises(ConfigError, match="study file not found"):
        load_study(tmp_path / "none.yaml")


def test_config_hash_changes_with_text():
    assert config_hash("a") != config_hash("b")
    assert len(config_hash("a")) == 64


def test_ik_chunks_and_muscle_warm_start_defaults_and_errors(folder):
    study = parse(GOOD, folder)
    assert study.ik.chunk_frames is None  # one IK task per trial unless asked
    assert study.muscles.warm_start is True
    assert "warm_start" not in study.muscles.solver_options()
    study = parse(GOOD + "ik: {chunk_frames: 200}\nmuscles: {warm_start: false}\n", folder)
    assert study.ik.chunk_frames == 200 and study.muscles.warm_start is False
    for extra, words in [("ik: {chunk_frames: 5}\n", ["ik.chunk_frames", "5", "greater than or equal to 10"]),
                         ("ik: {chunk_frames: many}\n", ["ik.chunk_frames", "many"]),
                         ("muscles: {warm_start: sometimes}\n", ["muscles.warm_start", "sometimes"]),
                         ("muscles: {warmstart: true}\n", ["unknown key 'muscles.warmstart'"])]:
        with pytest.raises(ConfigError) as err:
            parse(GOOD + extra, folder)
        for w in words:
            assert w in str(err.value), (extra, str(err.value))
