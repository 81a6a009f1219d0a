"""Open a report page in headless Chromium (Debian's `chromium`): the DOM it built, a screenshot, its console.

Screenshots go to .build/report-screenshots/ (not committed): the last run's pages, to look at.
"""
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / ".build" / "report-screenshots"
WINDOW = (1280, 1400)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         # Nothing from the network: a page that tried would show it in the DOM checks, not fetch it.
         "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"]


def chromium():
    path = shutil.which("chromium")
    assert path, "chromium is not installed: tests/bootstrap.sh installs Debian's chromium package"
    return path


def _run(page, *action, timeout=120):
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *action, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(os.environ, HOME=profile))
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def console_lines(stderr):
    """What the page wrote to the console (errors included): Chromium logs each one as a CONSOLE line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def open_page(page, name):
    """The DOM Chromium built from the page, its console lines, and the path of a screenshot of it."""
    dom = _run(page, "--dump-dom")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    taken = _run(page, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}")
    assert shot.is_file(), taken.stderr[-3000:]
    return dom.stdout, console_lines(dom.stderr) + console_lines(taken.stderr), shot


def png_rows(path, max_rows):
    """Width, height and the first max_rows rows of an 8-bit RGB(A) PNG as lists of (r, g, b) tuples."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _c, _f, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 4 if color == 6 else 3
    stride = width * channels
    raw = zlib.decompressobj().decompress(idat, (stride + 1) * max_rows)
    rows, previous = [], bytearray(stride)
    for index in range(min(max_rows, height)):
        kind = raw[index * (stride + 1)]
        line = bytearray(raw[index * (stride + 1) + 1:(index + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                upper_left = previous[i - channels] if i >= channels else 0
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upper_left)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


class Dom(HTMLParser):
    """The elements of a DOM dump with their attributes and text (cells read as words)."""

    def __init__(self, text):
        super().__init__()
        self.elements, self._open = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th", "br", "tr"):
            self.handle_data(" ")
        element = dict(tag=tag, attrs=dict(attrs), text="")
        self.elements.append(element)
        if tag not in ("meta", "rect", "line", "br", "img", "input", "link"):
            self._open.append(element)

    def handle_endtag(self, tag):
        if any(element["tag"] == tag for element in self._open):   # an end tag of a void element closes nothing
            while self._open.pop()["tag"] != tag:
                pass

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag=None, **attrs):
        return [el for el in self.elements if (tag is None or el["tag"] == tag) and all(
            (el["attrs"].get(k.replace("_", "-")) == v if v is not True else k.replace("_", "-") in el["attrs"])
            for k, v in attrs.items())]

    def one(self, tag=None, **attrs):
        found = self.find(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]
