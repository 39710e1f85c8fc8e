"""KPI charts: valid phone-width PNGs, CJK glyphs from the bundled font, lazy matplotlib."""

import io
import subprocess
import sys
import warnings

import pytest

from bot import ROOT, charts
from bot.charts import BarChart, cjk_font_path, render, render_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHINESE = BarChart(
    title="渠道拓展 下载量完成率",
    labels=["王伟", "李娜"],
    series=[("本周", [87.0, 45.0])],
    note="2026年第48周",
)


def png_size(data: bytes) -> tuple[int, int]:
    from matplotlib import image

    height, width = image.imread(io.BytesIO(data), format="png").shape[:2]
    return width, height


def missing_glyph_warnings(family: str | None) -> list[str]:
    """Render CHINESE (in `family`, or through the public API) and collect glyph warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if family is None:
            render_png(CHINESE)
        else:
            with charts._LOCK:
                charts._render(CHINESE, family)
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_render_png_is_a_phone_width_png():
    chart = BarChart(
        title="KPI",
        labels=["Alice", "Bob", "Carol"],
        series=[("this week", [87.0, 100.0, 30.0]), ("last week", [70.0, 110.0, 55.0])],
    )
    data = render_png(chart)
    assert data.startswith(PNG_MAGIC)
    width, height = png_size(data)
    assert 1000 <= width <= 1300
    assert height > 0


def test_height_grows_with_labels_up_to_a_cap():
    def height(n: int) -> int:
        labels = [f"P{i}" for i in range(n)]
        return png_size(render_png(BarChart("t", labels, [("s", [50.0] * n)])))[1]

    few, more, many = height(2), height(12), height(80)
    assert few < more < many
    assert many <= charts.MAX_HEIGHT_IN * charts.DPI + 2


def test_chinese_text_renders_without_missing_glyphs():
    assert missing_glyph_warnings(None) == []


def test_cjk_font_has_the_glyphs():
    from matplotlib.ft2font import FT2Font

    path = cjk_font_path()
    assert path.is_file()
    font = FT2Font(str(path))
    for ch in "渠道拓展下载量完成率王伟李娜年第周…%":
        assert font.get_char_index(ord(ch)) != 0, ch


def test_default_font_would_show_tofu():
    """Control: the glyph check does catch a font without CJK, so the test above means something."""
    assert missing_glyph_warnings("DejaVu Sans")


async def test_render_runs_in_a_thread():
    data = await render(CHINESE)
    assert data.startswith(PNG_MAGIC)
    assert png_size(data)[0] >= 1000


def test_none_and_off_scale_values_do_not_crash():
    chart = BarChart(
        title="KPI",
        labels=["a", "b", "c", "a label far longer than twelve characters"],
        series=[("now", [None, 250.0, 0.0, 99.6]), ("before", [None, None, None, None])],
        reference=None,
    )
    assert render_png(chart).startswith(PNG_MAGIC)
    single = BarChart("KPI", ["a", "b"], [("now", [None, 250.0])], unit=" pts")
    assert render_png(single).startswith(PNG_MAGIC)


def test_values_are_truncated_and_labels_shortened():
    assert charts._value_text(99.6, "%") == "99%"
    assert charts._value_text(100.0, "%") == "100%"
    assert charts._shorten("王伟") == "王伟"
    assert charts._shorten("渠道拓展下载量完成率月度汇总") == "渠道拓展下载量完成率月…"
    assert len(charts._shorten("x" * 40)) == charts.MAX_LABEL_CHARS


@pytest.mark.parametrize(
    "chart",
    [
        BarChart("empty", [], []),
        BarChart("no series", ["a"], []),
        BarChart("ragged", ["a", "b"], [("s", [1.0])]),
    ],
)
def test_nothing_to_chart_raises(chart):
    with pytest.raises(ValueError):
        render_png(chart)


@pytest.mark.slow
def test_importing_charts_does_not_import_matplotlib():
    out = subprocess.run(
        [sys.executable, "-c", "import bot.charts, sys; print('matplotlib' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"


def test_missing_font_says_how_to_fix(monkeypatch):
    monkeypatch.setattr(charts, "FONT_FILE", "NoSuchFont.otf")
    with pytest.raises(RuntimeError, match=r"mplfonts.*\./run\.sh"):
        cjk_font_path()


def test_missing_values_draw_no_label_and_an_empty_series_no_legend():
    chart = BarChart(
        title="KPI",
        labels=["下载", "留存"],
        series=[("本期", [80.0, None]), ("上期", [None, None])],
        gaps=["", "无数据"],
    )
    axes = charts.figure(chart).axes[0]
    texts = [t.get_text() for t in axes.texts]
    assert texts.count("80%") == 1 and "0%" not in texts and "无数据" in texts
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["本期"]
    assert len(axes.patches) == 2  # one slot per label: the empty series takes none
