"""KPI digest charts as phone-readable PNG bytes, with CJK text in Noto Sans CJK SC."""

import asyncio
import importlib.util
import io
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FONT_FILE = "NotoSansCJKsc-Regular.otf"
MAX_LABEL_CHARS = 12

# 6in at 192 dpi is 1152 px: Telegram shows photos about 400 pt wide, so a 14pt label lands near
# 13 pt on screen; a wider canvas in inches would shrink the text instead.
WIDTH_IN = 6.0
DPI = 192
MIN_HEIGHT_IN = 3.5
MAX_HEIGHT_IN = 14.0

RED, AMBER, GREEN, GREY = "#d9534f", "#f0ad4e", "#4caf50", "#808080"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

# matplotlib keeps process-wide state (font manager, rcParams) that is not safe to mutate or read
# from several threads at once; rendering is CPU-bound and mostly holds the GIL anyway, so
# serialising renders costs little.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class BarChart:
    """A horizontal grouped bar chart of completion percentages."""

    title: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]]
    reference: float | None = 100.0
    unit: str = "%"
    note: str = ""
    # Per label, what to write where the first series has no bar ("no data"), so a KPI without a
    # figure is still listed rather than left as an empty row.
    gaps: list[str] | None = None


def cjk_font_path() -> Path:
    """The font file used for CJK text (Noto Sans CJK SC shipped by mplfonts)."""
    # find_spec locates the package without importing it: mplfonts' __init__ imports matplotlib.
    spec = importlib.util.find_spec("mplfonts")
    if spec is not None:
        for location in spec.submodule_search_locations or ():
            path = Path(location) / "fonts" / FONT_FILE
            if path.is_file():
                return path
    raise RuntimeError(
        f"CJK font {FONT_FILE} not found: the mplfonts package is missing or incomplete; "
        "reinstall with the project's setup (./run.sh or ./test.sh installs mplfonts)"
    )


@cache
def _cjk_family() -> str:
    """Register the CJK font with matplotlib once and return its family name."""
    from matplotlib import font_manager

    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def render_png(chart: BarChart) -> bytes:
    """Render `chart` as PNG bytes (synchronous, CPU-bound)."""
    if not chart.labels or not chart.series:
        raise ValueError("nothing to chart")
    for name, values in chart.series:
        if len(values) != len(chart.labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(chart.labels)}")
    with _LOCK:
        return _render(chart, _cjk_family())


def figure(chart: BarChart):
    """The matplotlib Figure of `chart`, unrendered (for tests that inspect what is drawn)."""
    with _LOCK:
        return _figure(chart, _cjk_family())


async def render(chart: BarChart) -> bytes:
    """Render `chart` as PNG bytes in a worker thread, off the event loop."""
    return await asyncio.to_thread(render_png, chart)


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _level_colour(value: float) -> str:
    return RED if value < 60 else AMBER if value < 100 else GREEN


def _value_text(value: float, unit: str) -> str:
    # Truncate rather than round, so 99.6% never reads as "100%" (done) beside a short bar.
    return f"{math.floor(value + 1e-9):.0f}{unit}"


def _render(chart: BarChart, family: str) -> bytes:
    """Draw a checked `chart` with every text in font `family`; callers hold _LOCK."""
    fig = _figure(chart, family)
    buffer = io.BytesIO()
    # No Software metadata, so identical charts give identical bytes across matplotlib versions.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _figure(chart: BarChart, family: str):
    """Lay out `chart` on a Figure with an Agg canvas; callers hold _LOCK."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    # The first series (this period) always has its slot, where gaps are explained; another
    # series with nothing to draw takes no slot. No legend entry for a series without a bar.
    drawn = [(k, name, vs) for k, (name, vs) in enumerate(chart.series)
             if k == 0 or any(v is not None for v in vs)]  # fmt: skip
    several = len(chart.series) > 1  # colours and legend say which series is which
    n_labels, n_series = len(chart.labels), len(drawn)
    group = 0.8  # share of each label's slot taken by its bars; the rest separates groups
    bar = group / n_series
    slot_in = 0.25 + 0.3 * n_series  # each bar stays ~0.25in thick, enough for its 12pt value
    height = min(MAX_HEIGHT_IN, max(MIN_HEIGHT_IN, 1.6 + slot_in * n_labels))

    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # an explicit Agg canvas: no pyplot, no global backend selection
    ax = fig.add_subplot()

    values = [v for _, vs in chart.series for v in vs if v is not None]
    peak = max(values, default=0.0)
    ax.set_xlim(0, max(120.0, peak * 1.15))
    ax.set_ylim(n_labels - 0.5, -0.5)  # first label on top
    ax.set_yticks(range(n_labels), [_shorten(label) for label in chart.labels])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}{chart.unit}"))
    ax.tick_params(axis="x", labelsize=12, labelfontfamily=family)
    ax.tick_params(axis="y", labelsize=14, labelfontfamily=family, length=0)
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)

    for i, (k, name, series_values) in enumerate(drawn):
        rows = [row - group / 2 + bar * (i + 0.5) for row in range(n_labels)]
        # None becomes NaN: no bar and no value label; the slot stays so the groups line up. A
        # real 0 gets a sliver, so its "0%" sits beside something in the series' colour.
        sliver = ax.get_xlim()[1] * 0.006
        widths = [math.nan if v is None else max(v, sliver) for v in series_values]
        if several:
            colours = [PALETTE[k % len(PALETTE)]] * n_labels  # a series keeps its colour
        else:
            colours = [GREY if v is None else _level_colour(v) for v in series_values]
        shown = any(v is not None for v in series_values)
        ax.barh(rows, widths, height=bar * 0.92, color=colours, label=name if shown else "_none")
        if k == 0 and chart.gaps:
            _write_gaps(ax, rows, series_values, chart.gaps, family)
        for y, value in zip(rows, series_values, strict=True):
            if value is not None:
                ax.annotate(
                    _value_text(value, chart.unit),
                    (value, y),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    family=family,
                    size=12,
                    # Above the reference line, on a white patch, so the line never cuts the text.
                    zorder=4,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
                )

    if chart.reference is not None:
        ax.axvline(chart.reference, color=GREY, linestyle="--", linewidth=1.2, zorder=3)
    # The title is a suptitle so the legend can sit between it and the axes, clear of the bars.
    fig.suptitle(chart.title, family=family, size=17, x=0.02, ha="left")
    if several and values:  # a legend of nothing would only warn
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0, 1),
            ncols=min(len(chart.series), 3),
            frameon=False,
            borderaxespad=0.2,
            prop={"family": family, "size": 12},
        )
    if chart.note:
        fig.supxlabel(chart.note, family=family, size=11, color="#606060")
    return fig


def _write_gaps(ax, rows: list[float], values: list[float | None], gaps: list[str], family: str):
    """Where a label has no bar, say why at the start of its row (grey, not a value)."""
    for y, value, gap in zip(rows, values, gaps, strict=True):
        if value is None and gap:
            ax.annotate(gap, (0, y), xytext=(4, 0), textcoords="offset points", va="center",
                        family=family, size=12, color=GREY, zorder=4)  # fmt: skip
