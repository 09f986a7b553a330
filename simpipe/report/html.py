"""HTML of the report: one self-contained page (no scripts, no network).

Figures are embedded as base64 PNG and linked to their PNG and SVG files in
``figures/`` beside the page; the style sheet is inline and has print rules.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from .figures import save_figure

CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 14px; color: #111; margin: 0 auto;
       max-width: 1150px; padding: 0 16px 48px; line-height: 1.45; background: #fff; }
header { border-bottom: 2px solid #0072B2; margin-bottom: 12px; }
h1 { font-size: 24px; margin: 18px 0 4px; } h2 { font-size: 19px; margin-top: 32px;
     border-bottom: 1px solid #ccc; } h3 { font-size: 15px; }
.meta { color: #444; margin: 0 0 10px; }
nav ul { columns: 3; padding-left: 18px; margin: 6px 0; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #333; max-width: 900px; } figcaption a { margin-right: 8px; }
.table-wrap { overflow-x: auto; } table.data { border-collapse: collapse; font-size: 12.5px; margin: 8px 0; }
table.data caption { text-align: left; font-weight: bold; padding: 4px 0; }
table.data th, table.data td { border: 1px solid #bbb; padding: 3px 7px; vertical-align: top; }
table.data th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.status.pass { background: #e3f2ea; } td.status.flag { background: #fde8d9; font-weight: bold; }
.alert { border: 3px solid #D55E00; background: #fdf0e6; padding: 10px 14px; margin: 14px 0;
         font-size: 15px; } .alert strong { color: #a03c00; }
.ok { border-left: 4px solid #009E73; padding: 4px 10px; background: #eef8f3; }
.note { font-size: 12.5px; color: #333; max-width: 950px; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 8px; overflow-x: auto; font-size: 12px; }
code { font-size: 12.5px; }
@media print { body { max-width: none; font-size: 11pt; } nav { display: none; }
  section, figure, table { break-inside: avoid; } .alert { border-width: 2px; } a { color: #000; } }
"""


@dataclass
class Section:
    """One section of the report.

    Attributes
    ----------
    id : str
        HTML id (anchor of the table of contents).
    title : str
    body : str
        HTML content.
    """

    id: str
    title: str
    body: str


@dataclass
class FigureSink:
    """Saves figures into ``folder`` and returns their HTML.

    Attributes
    ----------
    folder : Path
        ``<out>/report/figures``.
    files : list of Path
        Every PNG and SVG written.
    """

    folder: Path
    files: list = field(default_factory=list)

    def add(self, fig: Figure, name: str, caption: str) -> str:
        """Save ``fig`` as ``name``.png/.svg and return its ``<figure>`` element.

        Parameters
        ----------
        fig : Figure
        name : str
            File stem (letters, digits, ``_``, ``-``).
        caption : str
            Plain text.

        Returns
        -------
        str
        """
        png, svg = save_figure(fig, self.folder, name)
        self.files += [png, svg]
        return figure_html(png, svg, name, caption)


def figure_html(png: Path, svg: Path, name: str, caption: str) -> str:
    """A ``<figure>`` with the PNG embedded and links to both files."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    folder = png.parent.name
    return (f'<figure id="fig-{html.escape(name)}"><img alt="{html.escape(caption[:120])}" '
            f'src="data:image/png;base64,{data}" data-file="{folder}/{png.name}">'
            f"<figcaption>{html.escape(caption)} "
            f'<a href="{folder}/{png.name}" data-file="{folder}/{png.name}">PNG</a>'
            f'<a href="{folder}/{svg.name}" data-file="{folder}/{svg.name}">SVG</a></figcaption></figure>')


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``-`` and ``_`` replaced by ``_`` (for file names)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def paragraph(text: str, cls: str = "") -> str:
    """An escaped paragraph."""
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def preformatted(text: str, id: str = "") -> str:
    """An escaped ``<pre>`` block."""
    attr = f' id="{html.escape(id)}"' if id else ""
    return f"<pre{attr}>{html.escape(text)}</pre>"


def page_html(title: str, meta: str, sections: list[Section], alert: str = "") -> str:
    """The whole page.

    Parameters
    ----------
    title : str
    meta : str
        One line under the title (plain text).
    sections : list of Section
    alert : str
        HTML shown above the table of contents (failed tasks), or empty.

    Returns
    -------
    str
    """
    toc = "".join(f'<li><a href="#{html.escape(s.id)}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "\n".join(f'<section id="{html.escape(s.id)}"><h2>{html.escape(s.title)}</h2>\n{s.body}\n</section>'
                     for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>"
            f"<header><h1>{html.escape(title)}</h1>{paragraph(meta, 'meta')}</header>\n{alert}"
            f"<nav><strong>Contents</strong><ul>{toc}</ul></nav>\n{body}\n</body></html>\n")
