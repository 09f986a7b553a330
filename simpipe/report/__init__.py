"""The study report: one self-contained HTML page plus its figures.

``write_report(out)`` reads a study's output folder (``results.h5``, and
``plan.json`` and ``cache/`` for timings and late failures) and writes::

    <out>/report/report.html        figures embedded (base64 PNG), no scripts, no network
    <out>/report/figures/*.png      the same figures, 150 dpi
    <out>/report/figures/*.svg      and as vector graphics

Sections appear only when their data exist (see
:mod:`simpipe.report.sections` and :mod:`simpipe.report.optional`).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import matplotlib

from .data import StudyData, load_study_data
from .figures import STYLE
from .html import FigureSink, Section, page_html, paragraph
from .sections import SECTIONS, failure_alert

log = logging.getLogger(__name__)

__all__ = ["write_report", "build_sections", "load_study_data"]


def build_sections(data: StudyData, sink: FigureSink, builders=None) -> list[Section]:
    """Run every section builder; one that fails is replaced by a section naming the error.

    Parameters
    ----------
    data : StudyData
    sink : FigureSink
    builders : list of callable, optional
        Defaults to :data:`simpipe.report.sections.SECTIONS`.

    Returns
    -------
    list of Section
    """
    sections = []
    for build in builders or SECTIONS:
        start = time.perf_counter()
        try:
            section = build(data, sink)
        except Exception as exc:  # a broken figure must not cost the rest of the report
            log.exception("report section %s failed", build.__name__)
            section = Section(build.__name__.removesuffix("_section"), f"{build.__name__}: not drawn",
                              paragraph(f"This section could not be drawn: {type(exc).__name__}: {exc}", "alert"))
        if section is not None:
            sections.append(section)
            log.info("report section %s: %.2f s", section.id, time.perf_counter() - start)
    return sections


def _meta_line(data: StudyData) -> str:
    prov = data.provenance
    return (f"{len(data.trials)} trial(s), {len(data.variants)} variant(s); simpipe "
            f"{prov.get('simpipe_version', '?')}, OpenSim {prov.get('opensim_version', '?')}; "
            f"config {str(prov.get('config_hash', '?'))[:12]}; output folder {data.out}")


def write_report(out_dir: str | Path) -> Path:
    """Write ``<out>/report/report.html`` and its figures.

    Parameters
    ----------
    out_dir : str or Path
        The study's output folder (holds ``results.h5``).

    Returns
    -------
    Path
        The HTML file.

    Raises
    ------
    SimpipeError
        If the folder holds no readable ``results.h5``.

    Notes
    -----
    The previous report is replaced: figures go to a fresh folder that is
    renamed into place, and the page is written to a temporary name and
    renamed, so a reader never sees a half-written report. Tasks that failed
    are listed at the top of the page; their results are NaN in the tables.
    """
    out = Path(out_dir)
    data = load_study_data(out)
    report = out / "report"
    staging = out / f".report-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        sink = FigureSink(staging / "figures")
        with matplotlib.rc_context(STYLE):
            sections = build_sections(data, sink)
        text = page_html(f"simpipe report: {data.name}", _meta_line(data), sections, failure_alert(data))
        (staging / "report.html").write_text(text, encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        data.close()
    old = out / f".report-old-{os.getpid()}"
    if report.exists():
        report.rename(old)
    staging.rename(report)
    shutil.rmtree(old, ignore_errors=True)
    log.info("wrote %s (%d figure files)", report / "report.html", len(sink.files))
    return report / "report.html"
