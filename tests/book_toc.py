"""Reading `_toc.yml`, shared by the structure tests and the browser test."""

from __future__ import annotations


def toc_entries(node) -> list[str]:
    """Every `root:` and `file:` in a parsed `_toc.yml`, in reading order."""
    found = []
    if isinstance(node, dict):
        found += [node[k] for k in ("root", "file") if isinstance(node.get(k), str)]
        for value in node.values():
            if isinstance(value, (dict, list)):
                found += toc_entries(value)
    elif isinstance(node, list):
        for item in node:
            found += toc_entries(item)
    return found
