"""The report as a person sees it: opened in a real headless Chromium, plots drawn, findings on
the page; Markdown and PNGs; findings on real logs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
OOM_LOG = ROOT / "samples" / "constructed" / "v0.8" / "l40s-qwen25-14b-oom-restart-docker-timestamps.log"
REAL = ROOT / "samples" / "real-logs"


def vllm_obs(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_obs", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, installed here when missing (root and apt-get are what these machines have)."""
    path = shutil.which("chromium")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "fonts-dejavu-core"],
                       env=env, capture_output=True, timeout=900)
        path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium is not installed and cannot be installed here")
    return path


def headless(chromium: str, *args: str) -> subprocess.CompletedProcess:
    profile = ARTIFACTS / "chromium-profile"
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120,
    )


def colour_pixels(png: Path, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    import numpy as np  # numpy and Pillow come with matplotlib
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=int).reshape(-1, 3)
    return int((np.abs(pixels - np.array(rgb)) < tolerance).all(axis=1).sum())


def test_html_report_renders_in_headless_chromium(chromium: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    report = ARTIFACTS / "report.html"
    result = vllm_obs("report", str(OOM_LOG), "--gpu", "L40S", "-o", str(report))
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert "<script" not in text and "<link" not in text and 'src="http' not in text and "src='http" not in text

    dom = headless(chromium, "--dump-dom", report.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "restarted 1 time after CUDA OOM" in dom.stdout
    assert "KV cache above 95% for" in dom.stdout and "requests preempted" in dom.stdout
    assert dom.stdout.count("data-plot=") == 8  # four plots for each of the two engine starts

    screenshot = ARTIFACTS / "report.png"
    shot = headless(chromium, f"--screenshot={screenshot}", "--window-size=1280,5200", "--hide-scrollbars", report.as_uri())
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    # The plots were drawn: their lines' colours are on the screen (matplotlib's tab:blue decode
    # line and ceiling, tab:purple KV usage line).
    assert colour_pixels(screenshot, (31, 119, 180)) > 2000
    assert colour_pixels(screenshot, (148, 103, 189)) > 500


def test_markdown_report_links_its_pngs(tmp_path: Path) -> None:
    out, pngs = tmp_path / "report.md", tmp_path / "plots"
    result = vllm_obs("report", str(OOM_LOG), "--format", "markdown", "--png-dir", str(pngs), "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "## Findings" in text and "restarted 1 time after CUDA OOM" in text
    linked = [line.split("(", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
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


def test_report_without_matplotlib_says_how_to_get_it(tmp_path: Path) -> None:
    blocker = tmp_path / "matplotlib"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "vllm_obs", "report", str(OOM_LOG), "-o", str(tmp_path / "r.html")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2 and "pip install 'vllm-obs[report]'" in result.stderr and "Traceback" not in result.stderr
