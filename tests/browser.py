"""Headless Chromium for the report tests: load a page, read its DOM, its console, a screenshot.

Debian's chromium (`scripts/setup --system` installs it). Each call gets its own profile under
the caller's directory; the console is read from Chromium's own log (--enable-logging=stderr),
which prints every console message and uncaught exception as an `INFO:CONSOLE` line.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync")
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")


def run(page: Path, workdir: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess:
    profile = workdir / f"chromium-profile-{len(list(workdir.glob('chromium-profile-*')))}"
    return subprocess.run(
        [CHROMIUM, *_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args, page.as_uri() + fragment],
        capture_output=True, text=True, timeout=180,
    )


def console_messages(stderr: str) -> list[str]:
    return [m.group(1) for line in stderr.splitlines() if (m := _CONSOLE.search(line))]


class _Figures(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "figure" and "data-plot" in values:
            self.figures.append({"id": values.get("id", ""), "plot": values["data-plot"],
                                 "rendered": json.loads(values["data-rendered"]) if "data-rendered" in values else None})
        if tag == "body":
            self.body = values


def rendered(dom: str) -> tuple[list[dict], dict[str, str]]:
    """The plots' figures with what the page's script says each drew, and the body's attributes."""
    parser = _Figures()
    parser.feed(dom)
    return parser.figures, parser.body


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG, decoded with zlib."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), f"unsupported PNG (depth {depth}, colour type {colour})"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        previous = line
    return width, channels, rows


def colour_pixels(path: Path, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels of the screenshot within `tolerance` of a colour (per channel): with Pillow when the
    test extra brought it (fast), else with the zlib decoder above."""
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        pixels = Image.open(path).convert("RGB").tobytes()
        return sum(1 for i in range(0, len(pixels), 3)
                   if abs(pixels[i] - rgb[0]) < tolerance and abs(pixels[i + 1] - rgb[1]) < tolerance and abs(pixels[i + 2] - rgb[2]) < tolerance)
    width, channels, rows = png_pixels(path)
    count = 0
    for row in rows:
        for x in range(0, width * channels, channels):
            if abs(row[x] - rgb[0]) < tolerance and abs(row[x + 1] - rgb[1]) < tolerance and abs(row[x + 2] - rgb[2]) < tolerance:
                count += 1
    return count
