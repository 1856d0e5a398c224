"""Progress bars: a tqdm text bar, to stdout in a terminal, as one updatable output in a notebook.

In a Jupyter kernel plain text output would keep every state of the bar (a saved notebook and the
rendered book would show dozens of lines); :class:`_DisplayLine` replaces each state with the
next through an IPython display handle, so the executed pages keep just the final state.
"""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


class _DisplayLine:
    """A file-like target for tqdm that shows the bar as one updatable notebook output.

    tqdm writes ``"\\r" + bar`` to its file; each state replaces the previous one through an
    IPython display handle (``update_display_data``), which JupyterLab, Colab and nbclient all
    honour, so the live page shows a moving bar and the saved page shows its final state only.
    """

    def __init__(self) -> None:
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, s: str) -> None:
        text = s.replace("\r", "").strip("\n")
        if text:
            self._handle.update(self._pretty(text))

    def flush(self) -> None:
        pass


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except ImportError:
        return False


def progress_bar(total: int, desc: str, enabled: bool, unit: str = "batch"):
    """A tqdm text bar over ``total`` steps (disabled, it shows nothing).

    The text bar (not ``tqdm.auto``'s widget) is used on purpose: the widget needs
    ``ipywidgets`` and its saved state, without which the rendered book shows nothing
    or a placeholder.
    """
    from tqdm.std import tqdm

    out = _DisplayLine() if (enabled and _in_notebook()) else sys.stdout
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=out, mininterval=0.5)
