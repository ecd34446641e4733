"""The report as sections of tables, images and text, rendered two ways: one self-contained HTML page
(tables as HTML, images embedded as base64 data URIs, no external assets, and an inline script that
marks the page rendered, ``<body data-rendered="ok">``, once every image has decoded, or lists the
images that did not) and a Markdown file (images linked by path)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["Table", "Image", "Text", "Section", "format_table", "image_data_uri", "render_html", "render_markdown",
           "RENDER_CHECK"]


@dataclass
class Table:
    """A table with a caption."""

    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Image:
    """A PNG file shown with a caption."""

    path: Path
    caption: str = ""


@dataclass
class Text:
    """A paragraph of plain text."""

    text: str


@dataclass
class Section:
    """A titled part of the page."""

    title: str
    blocks: list[Table | Image | Text] = field(default_factory=list)


RENDER_CHECK = """
window.addEventListener("load", function () {
  var failed = [];
  document.querySelectorAll("img").forEach(function (img) {
    if (!(img.complete && img.naturalWidth > 0)) { failed.push(img.alt || "image"); }
  });
  var status = document.getElementById("render-status");
  if (failed.length === 0) {
    document.body.dataset.rendered = "ok";
    status.textContent = "All " + document.images.length + " images rendered.";
  } else {
    document.body.dataset.rendered = "failed";
    document.body.dataset.failures = failed.join("; ");
    status.textContent = "Images that failed to render: " + failed.join("; ");
  }
});
"""

_STYLE = """
body { font-family: system-ui, -apple-system, "DejaVu Sans", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; }
h1 { border-bottom: 2px solid #4a7ab5; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; color: #2c5282; }
table.report { border-collapse: collapse; font-size: 0.85rem; margin: .6rem 0 1.2rem; display: block;
               overflow-x: auto; }
table.report th, table.report td { border: 1px solid #ccd; padding: .25rem .5rem; text-align: right;
                                   white-space: nowrap; }
table.report th { background: #eef2f8; }
table.report tr:nth-child(even) td { background: #f8f9fb; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
figure { margin: 1rem 1rem 1rem 0; display: inline-block; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #dde; }
figure.wide { display: block; }
figcaption { font-size: 0.85rem; color: #555; }
.meta { color: #666; font-size: 0.85rem; }
"""


def image_data_uri(path: str | Path) -> str:
    """``data:image/png;base64,...`` of a PNG file (other types by suffix: jpg, gif, svg)."""
    path = Path(path)
    mime = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
            ".svg": "image/svg+xml"}.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _number(value: float, digits: int) -> str:
    if pd.isna(value):
        return ""
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def format_table(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy for display: floats with ``digits`` decimals (small values in significant digits),
    booleans as yes/blank, missing values blank."""
    shown = frame.copy()
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_bool_dtype(values):
            shown[column] = values.map({True: "yes", False: ""})
        elif pd.api.types.is_float_dtype(values):
            shown[column] = values.map(lambda v: _number(v, digits))
        else:
            shown[column] = values.astype(object).where(values.notna(), "")
    return shown


def _table_html(table: Table, digits: int) -> str:
    body = format_table(table.frame, digits).to_html(index=False, border=0, classes="report")
    if table.caption:
        body = body.replace('class="dataframe report">', f'class="dataframe report">\n<caption>{html.escape(table.caption)}</caption>', 1)
    return body


def render_html(title: str, sections: list[Section], subtitle: str = "", digits: int = 3) -> str:
    """The page's HTML text."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="meta">{html.escape(subtitle)}</p>')
    parts.append('<p class="meta" id="render-status">Rendering…</p>')
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_table_html(block, digits))
            elif isinstance(block, Image):
                caption = html.escape(block.caption or block.path.name)
                parts.append(f'<figure><img src="{image_data_uri(block.path)}" alt="{caption}">'
                             f"<figcaption>{caption}</figcaption></figure>")
            else:
                parts.append(f"<p>{html.escape(block.text)}</p>")
        parts.append("</section>")
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n<script>{RENDER_CHECK}</script>\n</body>\n</html>\n")


def render_markdown(title: str, sections: list[Section], subtitle: str = "", digits: int = 3,
                    relative_to: Path | None = None) -> str:
    """The report as Markdown; images are linked (relative to ``relative_to`` where they lie below it)."""
    parts = [f"# {title}"]
    if subtitle:
        parts.append(subtitle)
    for section in sections:
        parts.append(f"## {section.title}")
        for block in section.blocks:
            if isinstance(block, Table):
                text = format_table(block.frame, digits).to_markdown(index=False)
                parts.append(f"**{block.caption}**\n\n{text}" if block.caption else text)
            elif isinstance(block, Image):
                target = block.path
                if relative_to is not None and block.path.is_relative_to(relative_to):
                    target = block.path.relative_to(relative_to)
                parts.append(f"![{block.caption or block.path.name}]({target.as_posix()})")
            else:
                parts.append(block.text)
    return "\n\n".join(parts) + "\n"
