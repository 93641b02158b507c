"""Figure defaults shared by every notebook.

Notebooks run under papermill, outside Quarto's kernel set-up, so figure
size, format and dpi are fixed here (PRIOR_ART: Quarto). Sizes fit a PDF
page (6.5 in text width). The palette is seaborn's ``colorblind``
(Okabe–Ito-like, safe for the common colour-vision deficiencies).
"""

from __future__ import annotations

import matplotlib

PALETTE = "colorblind"
FIG_WIDTH = 6.5  # inches: the text width of an A4 page with 2.5 cm margins
FIG_HEIGHT = 3.6


def setup() -> None:
    """Apply the project's matplotlib/seaborn defaults (idempotent), and make
    pandas' Styler escape CAE text (:func:`analysis.publication.escape.configure_pandas`)."""
    import seaborn as sns

    from analysis.publication.escape import configure_pandas

    configure_pandas()

    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    matplotlib.rcParams.update(
        {
            "figure.figsize": (FIG_WIDTH, FIG_HEIGHT),
            "figure.dpi": 110,
            "savefig.dpi": 200,
            "savefig.bbox": "tight",
            "axes.formatter.use_locale": False,
            "axes.titleweight": "bold",
            "font.size": 10,
        }
    )
    try:  # inside a kernel: inline figures even if MPLBACKEND=Agg leaked into its environment
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None and getattr(ip, "kernel", None) is not None:
            ip.run_line_magic("matplotlib", "inline")
    except Exception:
        pass
    try:  # PNG inline output keeps the HTML light
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except Exception:  # not in a kernel
        pass


def fr_axis(ax, axis: str = "y", kind: str = "number", decimals: int = 0) -> None:
    """Format an axis the French way (decimal comma, spaced thousands, % or €)."""
    from matplotlib.ticker import FuncFormatter

    from analysis.publication.formatting import fr_euro, fr_number, fr_percent

    fmt = {
        "percent": lambda v, _: fr_percent(v, decimals),
        "euro": lambda v, _: fr_euro(v, decimals),
    }.get(kind, lambda v, _: fr_number(v, decimals))
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(FuncFormatter(fmt))


def plot_headlines(key, spec: dict | None = None):
    """The summary's one figure: each headline share (``synthese:`` in the
    methodology, as selected by
    :func:`analysis.reporting.synthesis.headline_indicators`) as a point
    with its 95 % interval and, where there is one, the national reference.
    Drawn by :func:`analysis.indicators.compute.plot_family` (which keeps
    suppressed points out); returns the axes, or None when no share is
    publishable."""
    from analysis.indicators.compute import plot_family

    if key is None or not len(key):
        return None
    shares = key[key["unit"] == "part"]
    if shares.empty:
        return None
    ax = plot_family(shares.assign(family="_synthese"), "_synthese", unit="part", spec=spec)
    if ax is not None:
        ax.set_title("")  # the caption says what the figure shows; one caption per figure
    return ax
