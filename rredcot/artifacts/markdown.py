"""The Markdown the reports share: links relative to the file that holds them, a figure with its caption."""

from __future__ import annotations

import os
from pathlib import Path


def link(path: str | Path, out: str | Path) -> str:
    """``path`` as a link from the file ``out``: relative to ``out``'s folder, with forward slashes."""
    return Path(os.path.relpath(Path(path), Path(out).parent)).as_posix()


def figure(path: str | Path, caption: str, out: str | Path) -> list[str]:
    """A figure and, under it, its caption: the reStructuredText of ``experiments/report/`` as one Markdown
    paragraph (``literal`` → `literal`)."""
    text = " ".join(caption.split()).replace("``", "`")
    return [f"![{Path(path).stem}]({link(path, out)})", "", text, ""]
