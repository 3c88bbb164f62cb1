"""Small helpers the pages share."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

EMPTY = pd.DataFrame({"": []})


def md_escape(text: object) -> str:
    """Text safe inside a Markdown line (no emphasis or links by accident)."""
    return str(text).replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_").replace(
        "[", "\\["
    ).replace("\n", " ")  # fmt: skip


def markdown_list(frame: pd.DataFrame, links: dict[str, Iterable[str]] | None = None) -> str:
    """A DataFrame as a Markdown list, one item per row: `column: value` parts, the first one in
    bold; `links`: column -> URL per row (that value links there). Taipy's Markdown text renders
    lists and links but not tables, and a table control cannot hold links."""
    if frame.empty:
        return "*none*"
    links = {column: list(urls) for column, urls in (links or {}).items()}
    items = []
    for number, (_, row) in enumerate(frame.iterrows()):
        parts = []
        for position, column in enumerate(frame.columns):
            value = row[column]
            if value is None or value == "":
                continue
            text = md_escape(value)
            if column in links:
                text = f"[{text}]({links[column][number]})"
            parts.append(f"**{text}**" if position == 0 else f"{md_escape(column)}: {text}")
        items.append("- " + " · ".join(parts))
    return "\n".join(items)
