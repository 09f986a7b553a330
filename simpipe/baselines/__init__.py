"""Simulated baselines: running that adapts to a stiffer rectus femoris.

- :mod:`simpipe.baselines.spec`: the study file's ``baselines`` block;
- :mod:`simpipe.baselines.family`: one Moco simulation per stiffness and
  tracking weight, warm-started along the stiffness axis, one Dask task each;
- :mod:`simpipe.baselines.run`: ``simpipe baselines``: solve, write lab-like
  trials, analyse them with the study's own stages, add the Thomas test.
"""
