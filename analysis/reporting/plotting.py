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


def shows_each_structure(n_structures: int, methodology_dir=None) -> bool:
    """Whether the national figures and the indicator table show each
    structure (one point, column or cell each): up to
    ``publication.yml: structures_max_par_figure`` structures. Beyond, a
    legend of a hundred names and a heatmap of a hundred columns are
    unreadable: the national notebook shows instead how the structures'
    published values are spread (``plot_family_spread``, ``plot_dimension_spread``,
    ``indicators_spread_fr``)."""
    from analysis.method import loader

    return n_structures <= int(loader.load("publication", methodology_dir)["structures_max_par_figure"])


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


def draw_spread(ax, labels: list[str], values: dict[str, "object"], network: dict[str, tuple] | None = None) -> list:
    """The rows of a spread figure, one per label from the top: a box from
    the first to the third quartile with the median and whiskers to the
    extremes (:func:`analysis.stats.spread.five_numbers`: the whiskers are
    the smallest and largest values, not Tukey's 1.5 IQR fences), each
    structure's value as a small dot (fixed jitter: the same figure at every
    run), and ``network[label] = (value, low, high)`` as a diamond with its
    interval just above the box. Returns the legend handles; the caller
    sets the value axis and places the legend."""
    import numpy as np
    import pandas as pd
    import seaborn as sns
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from analysis.method import profile as profiles
    from analysis.stats.spread import five_numbers

    pal = sns.color_palette(PALETTE)
    boxes, positions = [], []
    for i, lab in enumerate(labels):
        v = np.asarray(values.get(lab, []), dtype="float64")
        v = v[~np.isnan(v)]
        f = five_numbers(v)
        if not f["n"]:
            continue
        boxes.append({"med": f["median"], "q1": f["q1"], "q3": f["q3"], "whislo": f["min"], "whishi": f["max"],
                      "fliers": [], "label": lab})
        positions.append(i)
        jitter = np.random.default_rng(i).uniform(-0.18, 0.18, len(v))
        ax.scatter(v, i + jitter, s=7, color="0.35", alpha=0.35, linewidths=0, zorder=2)
    if boxes:
        ax.bxp(boxes, positions=positions, orientation="horizontal", widths=0.55, showfliers=False, patch_artist=True,
               manage_ticks=False, zorder=1, boxprops={"facecolor": pal[0] + (0.25,), "edgecolor": pal[0]},
               medianprops={"color": pal[0], "linewidth": 2}, whiskerprops={"color": pal[0]}, capprops={"color": pal[0]})
    prof = profiles.current()
    one = prof.term("structure.un")
    handles = [Patch(facecolor=pal[0] + (0.25,), edgecolor=pal[0],
                     label=f"{prof.term('structure.majuscule_pluriel')} : quartiles, médiane et extrêmes"),
               Line2D([], [], linestyle="none", marker="o", markersize=3, color="0.35", alpha=0.6, label=one[:1].upper() + one[1:])]
    net = {k: v for k, v in (network or {}).items() if k in labels and pd.notna(v[0])}
    if net:
        y = np.array([labels.index(k) for k in net], dtype=float) - 0.38
        x = np.array([v[0] for v in net.values()], dtype=float)
        err = np.vstack([x - np.array([v[1] for v in net.values()], dtype=float),
                         np.array([v[2] for v in net.values()], dtype=float) - x])
        err = np.clip(np.where(np.isnan(err), 0, err), 0, None)
        ax.errorbar(x, y, xerr=err, fmt="D", color=pal[1], markersize=5, capsize=3, zorder=4)
        handles.append(Line2D([], [], linestyle="-", marker="D", markersize=5, color=pal[1],
                              label=f"{prof.term('structure.ensemble')} (IC 95 %)"))
    ax.set_ylim(len(labels) - 0.4, -0.7)  # first label on top, room for the diamond above the first box
    return handles


def spread_legend(ax, handles: list, rows: int) -> None:
    """The legend of a spread figure, under its axes."""
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / max(1, rows)), ncol=2,
              fontsize=8, frameon=False)
