"""The example subject: synthetic running trials generated with a known truth.

- :mod:`simpipe.example.trajectories`: joint-angle curves of running at about
  3.5 m/s (Fourier series shaped on published key values).
- :mod:`simpipe.example.generate`: :func:`~simpipe.example.generate.build_example`
  writes the subject's static and running trials (TRC, GRF, ExternalLoads),
  its true scaled model and ``ground_truth.h5``; ``simpipe example build``
  calls it.
"""
