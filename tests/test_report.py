"""The report as a person sees it: opened in a real headless Chromium, plots drawn, findings on
the page; Markdown and PNGs; findings on real logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import browser

ROOT = Path(__file__).resolve().parent.parent
OOM_LOG = ROOT / "samples" / "constructed" / "v0.8" / "l40s-qwen25-14b-oom-restart-docker-timestamps.log"
REAL = ROOT / "samples" / "real-logs"
H100_LOG = REAL / "060-realgpu-h100-v0271-qwen3-8b-full-run" / "input.log"


def vllm_obs(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_obs", *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def chromium() -> str:
    if not os.access(browser.CHROMIUM, os.X_OK):
        pytest.skip(f"{browser.CHROMIUM} is not installed: `scripts/setup --system` installs Debian's chromium")
    return browser.CHROMIUM


def test_console_reader_sees_page_errors(chromium: str, tmp_path: Path) -> None:
    """The no-console-errors check below can fail: a broken page's errors are seen."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('deliberate'); missingFunction();</script></body></html>")
    messages = browser.console_messages(browser.run(page, tmp_path, "--dump-dom").stderr)
    assert any("deliberate" in m for m in messages) and any("missingFunction" in m for m in messages), messages


def test_html_report_renders_interactive_plots_in_headless_chromium(chromium: str, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = vllm_obs("report", str(OOM_LOG), "--gpu", "L40S", "-o", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    # Self-contained: uPlot and the data are inlined, nothing is fetched.
    assert "<link" not in text and not re.search(r"src=[\"']?https?:", text) and "uPlot" in text

    dom = browser.run(report, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert browser.console_messages(dom.stderr) == []
    assert "restarted 1 time after CUDA OOM" in dom.stdout
    assert "KV cache above 95% for" in dom.stdout and "requests preempted" in dom.stdout
    figures, body = browser.rendered(dom.stdout)
    assert [f["plot"] for f in figures] == ["throughput", "requests", "kv_usage", "preemptions"] * 2
    assert float(body["data-render-ms"]) > 0
    units = {"throughput": "tokens/s", "requests": "requests", "kv_usage": "% of the KV cache"}
    for figure in figures:
        drawn = figure["rendered"]
        assert drawn is not None, f"{figure['id']} was not drawn"
        assert drawn["points"] > 10 and drawn["series_with_data"] >= 1 and drawn["x_label"] == "time (UTC)"
        assert drawn["y_label"] == units.get(figure["plot"], "preemptions per 30 s")
    for start in ("plot-0-", "plot-1-"):
        ranges = {(f["rendered"]["x_min"], f["rendered"]["x_max"]) for f in figures if f["id"].startswith(start)}
        assert len(ranges) == 1, f"the panels of {start} do not share one time range: {ranges}"
    # The first start ended in a CUDA OOM: a marker on each of its panels, none on the second's.
    assert [f["rendered"]["markers"] for f in figures] == [1] * 4 + [0] * 4
    first = [f for f in figures if f["id"].startswith("plot-0-")][0]["rendered"]
    # From the first stats line (11:10:52.703) to the CUDA OOM after the last one (11:44:33.160).
    assert (first["x_min"], first["x_max"]) == pytest.approx((1746961852.703, 1746963873.16), abs=0.001)

    # Zooming one panel (as a drag does) zooms every panel of its start.
    zoomed_dom = browser.run(report, tmp_path, "--dump-dom", fragment="#zoom=0.25,0.5")
    zoomed, _ = browser.rendered(zoomed_dom.stdout)
    lo, hi = first["x_min"], first["x_max"]
    expected = pytest.approx((lo + (hi - lo) * 0.25, lo + (hi - lo) * 0.5), abs=0.01)
    for figure in zoomed:
        if figure["id"].startswith("plot-0-"):
            assert (figure["rendered"]["x_min"], figure["rendered"]["x_max"]) == expected, figure["id"]
    assert browser.console_messages(zoomed_dom.stderr) == []

    # Hovering one panel shows every panel's values at that moment, with units.
    hovered, _ = browser.rendered(browser.run(report, tmp_path, "--dump-dom", fragment="#cursor=0.5").stdout)
    legends = {f["plot"]: f["rendered"]["legend"] for f in hovered if f["id"].startswith("plot-0-")}
    moment = legends["throughput"][0]
    assert re.fullmatch(r"05-11 11:\d\d:\d\d", moment) and legends["requests"][0] == legends["kv_usage"][0] == moment
    assert legends["throughput"][1].endswith(" tokens/s") and legends["requests"][1].endswith(" requests")
    assert legends["kv_usage"][1].endswith(" %") and legends["preemptions"][1].endswith(" preemptions")

    screenshot = tmp_path / "report.png"
    shot = browser.run(report, tmp_path, f"--screenshot={screenshot}", "--window-size=1100,2300", "--hide-scrollbars")
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    # Drawn, not blank: the decode line's blue, the KV line's purple, the preemption bars' red.
    assert browser.colour_pixels(screenshot, (31, 119, 180)) > 1500
    assert browser.colour_pixels(screenshot, (148, 103, 189)) > 300
    assert browser.colour_pixels(screenshot, (214, 39, 40)) > 300


def test_png_decoder_agrees_with_pillow(chromium: str, tmp_path: Path) -> None:
    """The stdlib decoder (used when Pillow is absent) counts the same pixels as Pillow."""
    pytest.importorskip("PIL")
    page = tmp_path / "p.html"
    page.write_text("<html><body style='margin:0;background:#fff'><div style='width:50px;height:20px;background:#1f77b4'></div></body></html>")
    shot = tmp_path / "p.png"
    browser.run(page, tmp_path, f"--screenshot={shot}", "--window-size=200,120")
    width, _channels, rows = browser.png_pixels(shot)
    assert (width, len(rows)) == (200, 120)
    stdlib = sum(1 for row in rows for x in range(0, len(row), _channels) if row[x:x + 3] == bytes((31, 119, 180)))
    assert stdlib == browser.colour_pixels(shot, (31, 119, 180), tolerance=1) == 1000


def test_html_report_on_a_plain_install(tmp_path: Path) -> None:
    """No matplotlib (the base install): the HTML page and Markdown without plots still work;
    only --png-dir asks for the extra."""
    blocker = tmp_path / "blocked" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker.parent))
    html_out = tmp_path / "r.html"
    result = vllm_obs("report", str(OOM_LOG), "-o", str(html_out), env=env)
    assert result.returncode == 0, result.stderr
    assert html_out.read_text().count("data-plot=") == 8
    md = tmp_path / "r.md"
    result = vllm_obs("report", str(OOM_LOG), "--format", "markdown", "-o", str(md), env=env)
    assert result.returncode == 0 and "restarted 1 time after CUDA OOM" in md.read_text(), result.stderr
    result = vllm_obs("report", str(OOM_LOG), "--format", "markdown", "--png-dir", str(tmp_path / "p"), "-o", str(md), env=env)
    assert result.returncode == 2 and "pip install 'vllm-obs[report]'" in result.stderr and "Traceback" not in result.stderr


def test_markdown_report_links_its_pngs(tmp_path: Path) -> None:
    out, pngs = tmp_path / "report.md", tmp_path / "plots"
    result = vllm_obs("report", str(OOM_LOG), "--format", "markdown", "--png-dir", str(pngs), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "## Findings" in text and "restarted 1 time after CUDA OOM" in text
    linked = [line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert len(linked) == 8
    for path in linked:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_findings_on_real_logs(tmp_path: Path) -> None:
    def findings_of(case: str) -> list[str]:
        out = tmp_path / f"{case[:3]}.md"
        assert vllm_obs("report", str(REAL / case / "input.log"), "--format", "markdown", "--year", "2024", "-o", str(out)).returncode == 0
        return [line[2:] for line in out.read_text().splitlines() if line.startswith("- ")]

    swap = findings_of("029-v050-tqdm-glued-stats-swap-preemption")
    assert any(line.startswith("151 requests preempted") for line in swap)
    assert any("Up to 9,832 requests waited" in line for line in swap)
    oom = findings_of("031-v08-v1-cuda-oom-core-critical-fatal-signal")
    assert "CUDA OOM: 1 time." in oom and "An engine fatal error: 1 time." in oom
    kv = findings_of("010-v064-rtx3090-kv-too-small-max-seq-len")
    assert any(line.startswith("Startup failure (insufficient kv cache): max seq len 29000") for line in kv)
