"""File formats at simpipe's edges: TRC markers, MOT/STO tables, GRF, hashing.

Every reader raises :class:`simpipe.errors.InputError` naming the file and the
problem; nothing here reads or writes the current working directory
implicitly, and nothing here needs OpenSim.
"""

from simpipe.io.filtering import lowpass, resample
from simpipe.io.grf import (
    check_grf_covers,
    grf_columns,
    read_grf,
    write_external_loads_xml,
    write_grf,
)
from simpipe.io.hashing import file_sha256, hash_object, short_hash, write_text_atomic
from simpipe.io.sto import read_sto, write_sto
from simpipe.io.trc import (
    GapReport,
    check_markers_present,
    read_trc,
    read_trc_with_report,
    write_trc,
)

__all__ = [
    "GapReport", "check_grf_covers", "check_markers_present", "file_sha256",
    "grf_columns", "hash_object", "lowpass", "read_grf", "read_sto", "read_trc",
    "read_trc_with_report", "resample", "short_hash", "write_external_loads_xml",
    "write_grf", "write_sto", "write_text_atomic", "write_trc",
]
