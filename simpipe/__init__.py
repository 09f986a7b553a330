"""simpipe: a reproducible OpenSim pipeline for rectus femoris stiffness studies."""

__version__ = "0.1.0"
