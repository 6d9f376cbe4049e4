"""Reports: what the papers claimed beside what was measured, as one HTML file and Markdown.

- :func:`reproduction_report` builds the report of ``advgeom reproduce`` from the saved run
  folders; the audit (:mod:`advgeom.audit`) builds its own :class:`Report` from its instruments.
- :func:`write_report` writes ``index.html`` (self-contained: figures embedded as data URIs, no
  network) and ``report.md`` (figures linked by relative path) into a folder, atomically.
"""

from advgeom.report.html import render_html
from advgeom.report.markdown import render_markdown
from advgeom.report.model import (
    AUDIT_WORDS,
    REPRODUCTION_WORDS,
    Block,
    Figure,
    Report,
    Section,
    Setting,
    Words,
)
from advgeom.report.reproduction import reproduction_report
from advgeom.report.write import HTML_NAME, MARKDOWN_NAME, atomic_folder, write_files, write_report

__all__ = [
    "AUDIT_WORDS",
    "HTML_NAME",
    "MARKDOWN_NAME",
    "REPRODUCTION_WORDS",
    "Block",
    "Figure",
    "Report",
    "Section",
    "Setting",
    "Words",
    "atomic_folder",
    "render_html",
    "render_markdown",
    "reproduction_report",
    "write_files",
    "write_report",
]
