"""Headless Chromium, driven over the DevTools protocol on a pipe (no port), in an empty
network namespace: what a person sees of a page, with nothing fetched from elsewhere.

:func:`inspect_page` opens a file, collects every console error and uncaught exception,
measures each plotly chart (its traces, and the SVG and canvas elements it drew) and
takes a screenshot of each section.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSER = shutil.which("chromium-headless-shell") or shutil.which("chromium")

#: Runs in the page once loaded: per section, its title, box and the charts in it.
MEASURE = """
(() => [...document.querySelectorAll('section')].map(section => {
  const box = section.getBoundingClientRect();
  return {
    title: section.querySelector('h2').textContent,
    box: {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height},
    charts: [...section.querySelectorAll('.js-plotly-plot')].map(chart => ({
      traces: chart.data.length,
      svgShapes: chart.querySelectorAll('svg path, svg circle, svg rect').length,
      canvases: [...chart.querySelectorAll('canvas')].filter(c => c.width > 0).length,
      bars: [...chart.querySelectorAll('.barlayer .point path')].map(bar => {
        const drawn = bar.getBoundingClientRect();
        return {width: drawn.width, height: drawn.height};
      }),
      values: (chart._fullData || chart.data).map(
        trace => Array.from((trace.orientation === 'h' ? trace.x : trace.y) || [])),
      heatmaps: chart.data.filter(trace => trace.type === 'heatmap')
        .map(trace => ({x: trace.x, y: trace.y, z: trace.z})),
      images: chart.querySelectorAll('svg image').length,
    })),
  };
}))()
"""


@dataclass
class Section:
    title: str
    charts: list[dict[str, Any]]
    screenshot: Path


@dataclass
class Page:
    errors: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def assert_rendered(self) -> None:
        """No error, and every chart drew its traces (as SVG shapes or on a canvas)."""
        assert not self.errors, self.errors
        assert self.sections, "the page has no sections"
        for section in self.sections:
            assert section.screenshot.stat().st_size > 1000, f"{section.title}: blank shot"
            for chart in section.charts:
                drawn = chart["svgShapes"] > 0 or chart["canvases"] > 0
                assert chart["traces"] >= 1 and drawn, f"{section.title}: {chart}"


class _DevTools:
    """The DevTools protocol over Chromium's --remote-debugging-pipe (fds 3 and 4)."""

    def __init__(self, profile: Path) -> None:
        assert BROWSER is not None, "no Chromium: make test installs chromium-headless-shell"
        to_browser, self._out = (_above_four(fd) for fd in os.pipe())
        self._in, from_browser = (_above_four(fd) for fd in os.pipe())
        arguments = [
            "unshare",
            "--net",
            BROWSER,
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--window-size=1200,900",
            "about:blank",
        ]
        # The browser reads commands on fd 3 and writes replies on fd 4.
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec 3<&{to_browser} 4>&{from_browser}; exec "$@"',
                "bash",
                *arguments,
            ],
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._receive())
        raise TimeoutError(f"no {method} within {timeout:g}s")

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        decoded: dict[str, Any] = json.loads(message)
        return decoded

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, OSError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._out)
        os.close(self._in)


def _above_four(fd: int) -> int:
    """``fd`` moved above 4, so that the child's ``3<&N 4>&M`` cannot clash (bash: dash
    takes single-digit descriptors only)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def inspect_page(path: Path, screenshots: Path) -> Page:
    """Open ``path`` and report what rendered; each section's screenshot lands in
    ``screenshots``."""
    screenshots.mkdir(parents=True, exist_ok=True)
    page = Page()
    with tempfile.TemporaryDirectory() as profile:
        tools = _DevTools(Path(profile))
        try:
            target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Page", "Runtime", "Log"):
                tools.send(f"{domain}.enable", session=session)
            tools.send("Page.navigate", {"url": path.as_uri()}, session=session)
            tools.wait_for("Page.loadEventFired")
            time.sleep(1)  # plotly draws after load
            found = tools.send(
                "Runtime.evaluate",
                {"expression": MEASURE, "returnByValue": True},
                session=session,
            )["result"]["value"]
            for number, section in enumerate(found):
                shot = tools.send(
                    "Page.captureScreenshot",
                    {"clip": {**section["box"], "scale": 1}, "captureBeyondViewport": True},
                    session=session,
                )
                file = screenshots / f"{number:02d}.png"
                file.write_bytes(base64.b64decode(shot["data"]))
                page.sections.append(Section(section["title"], section["charts"], file))
            for event in tools.events:
                params = event.get("params", {})
                if event.get("method") == "Runtime.exceptionThrown":
                    page.errors.append(params["exceptionDetails"].get("text", "exception"))
                elif (
                    event.get("method") == "Runtime.consoleAPICalled" and params["type"] == "error"
                ):
                    page.errors.append(" ".join(str(a.get("value")) for a in params["args"]))
                elif (
                    event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error"
                ):
                    page.errors.append(params["entry"]["text"])
        finally:
            tools.close()
    return page
