"""Open a `snakemake --report` HTML file in headless Chromium and show every result the way a reader does.

The report is a single-page React app: its figures and captions exist only after its JavaScript ran and a
reader clicked through the menus, so reading the HTML file's embedded data, as tests/test_pipeline.py also
does, cannot tell whether they display. This script clicks, for every result, menu -> category -> the
result's info button -> its view button, then reads what the page shows: the caption under "Description"
and, for images, the figure in the content pane (decoded, inside the window, at what scale). With
--screenshots it saves one PNG per result. It exits 1 when a figure or a caption does not show.

    python scripts/check_report_in_browser.py report.html --screenshots results/report_screenshots

Chromium is driven over its DevTools protocol on a pipe (--remote-debugging-pipe), with the standard library
only. The binary: --chromium, else $CHROMIUM, else the first of CHROMIUM_NAMES on PATH (Debian:
`apt-get install chromium-headless-shell`, or `chromium`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_NAMES = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"]

# Clicks through the report's own links (snakemake/report/html_reporter/template/components/), as a reader
# would; returns what one result looks like once shown. Runs in the page; `path` is the result's key.
SHOW_RESULT_JS = r"""
async (path) => {
  const tick = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const nav = () => document.querySelector("#app nav");
  const text = (node) => node.textContent.replace(/\s+/g, " ").trim();
  const click = async (node, what) => {
    if (!node) throw new Error(`no ${what} to click for ${path}`);
    node.click();
    await tick();
  };
  const link = (label) => [...nav().querySelectorAll("ul a")].find((a) => text(a) === label);
  const category = Object.keys(categories).find(
    (c) => Object.values(categories[c]).some((paths) => paths.includes(path)));
  const subcategory = Object.keys(categories[category]).find((s) => categories[category][s].includes(path));

  await click(nav().querySelector("nav nav a"), "home breadcrumb");  // back to the menu
  await click(link(Object.keys(categories).length == 1 ? "Results" : category), `menu item ${category}`);
  if (Object.keys(categories[category]).length > 1) {
    await click(link(subcategory), `subcategory ${subcategory}`);
  }
  const row = [...nav().querySelectorAll("table tbody tr")].find((tr) => text(tr.cells[0]) === path);
  if (!row) throw new Error(`no row for ${path} in ${category}/${subcategory}`);
  const [, info] = row.cells[row.cells.length - 1].querySelectorAll("a");  // view, info
  await click(info, "info button");
  const isImage = results[path].mime_type.startsWith("image/");
  if (isImage) await click(nav().querySelector("ul a[type=button]"), "view button");

  const shown = { path, category, subcategory, mime_type: results[path].mime_type };
  Object.assign(shown, { caption: null, caption_errors: [], image: null });
  const captions = nav().querySelectorAll("li.prose");
  if (captions.length == 1 && captions[0].getBoundingClientRect().height > 0) {
    shown.caption = captions[0].innerText.replace(/\s+/g, " ").trim();
    // docutils prints what it could not parse into the caption itself
    shown.caption_errors = [...captions[0].querySelectorAll(".system-message")].map(
      (node) => text(node).replace(/^.*?backlink\s*/, ""));
  }
  const expected = document.createElement("div");
  expected.innerHTML = results[path].caption || "";
  shown.expected_caption = text(expected);
  if (isImage) {
    const pane = document.querySelector("#app > div").lastElementChild;
    const img = pane.querySelector("img");
    if (img && img.src === results[path].data_uri) {
      await img.decode().catch(() => null);
      const r = img.getBoundingClientRect(), p = pane.getBoundingClientRect();
      const inside = r.left >= p.left - 1 && r.right <= p.right + 1
        && r.top >= -1 && r.bottom <= innerHeight + 1;
      shown.image = {
        decoded: img.complete && img.naturalWidth > 0,
        natural: [img.naturalWidth, img.naturalHeight],
        shown: [Math.round(r.width), Math.round(r.height)],
        scale: r.width / Math.max(img.naturalWidth, 1),
        inside_window: inside,
      };
    }
  }
  return shown;
}
"""


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium binary to use, or None: the explicit one, $CHROMIUM, else the first known name on PATH."""
    for candidate in [explicit, os.environ.get("CHROMIUM"), *CHROMIUM_NAMES]:
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


class Chromium:
    """A headless Chromium and one page, driven over the DevTools protocol on fds 3 and 4 (no websocket)."""

    def __init__(self, binary: str, width: int, height: int, timeout_s: float = 60.0):
        self.timeout_s = timeout_s
        self.profile = tempfile.TemporaryDirectory(prefix="report-browser-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands from fd 3 and writes replies to fd 4; lift our ends above 4 so the child's
        # dup2 overwrites nothing it still needs.
        child_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        args = [
            binary,
            "--headless",
            "--no-sandbox",  # root in containers and CI
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile.name}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            close_fds=False,  # fds 3 and 4 must survive exec; every fd Python opened is close-on-exec
            preexec_fn=lambda: (os.dup2(child_r, 3), os.dup2(child_w, 4)),
        )
        os.close(child_r)
        os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
            self.session = attached["sessionId"]
            for domain in ("Page.enable", "Runtime.enable"):
                self.call(domain, session=True)
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=True,
            )
        except BaseException:
            self.close()
            raise

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_chrome], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError(f"Chromium did not answer within {self.timeout_s} s")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                stderr = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError(f"Chromium exited: {stderr[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: bool = False) -> dict:
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout_s
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            message = self._read_message(deadline)
            if message.get("method") == method:
                return message
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for_event("Page.loadEventFired")

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", {"format": "png"}, session=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def page_errors(self) -> list[str]:
        """Uncaught exceptions and console errors the page raised so far."""
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = params["args"]
                errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in args))
        return errors

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.proc.stderr.close()
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def render_report(
    report: Path,
    chromium: str,
    screenshots: Path | None = None,
    width: int = 1600,
    height: int = 1000,
) -> tuple[list[dict], list[str]]:
    """What the browser shows for every result of the report (one dict each), and the page's errors."""
    with Chromium(chromium, width, height) as browser:
        browser.open(report.resolve().as_uri())
        browser.evaluate(
            "new Promise((resolve) => { const check = () => document.querySelector('#app nav a') ? resolve()"
            " : setTimeout(check, 20); check(); })"
        )
        paths = browser.evaluate("Object.keys(results).sort()")
        shown = []
        for index, path in enumerate(paths):
            item = browser.evaluate(f"({SHOW_RESULT_JS})({json.dumps(path)})")
            if screenshots is not None:
                screenshots.mkdir(parents=True, exist_ok=True)
                item["screenshot"] = str(screenshots / f"{index:02d}_{Path(path).name.replace('.', '_')}.png")
                browser.screenshot(Path(item["screenshot"]))
            shown.append(item)
        return shown, browser.page_errors()


def problems(item: dict) -> list[str]:
    """Why a result does not show as it should: no caption, reST errors in it, an image out of view."""
    found = []
    if not item["caption"]:
        found.append("no caption shown")
    elif item["caption"] != item["expected_caption"]:
        found.append("the caption shown differs from the report's")
    found += [f"reStructuredText error in the caption: {error}" for error in item["caption_errors"]]
    if item["mime_type"].startswith("image/"):
        image = item["image"]
        if image is None or not image["decoded"]:
            found.append("the image is not shown")
        elif not image["inside_window"]:
            found.append(f"the image ({image['shown'][0]}x{image['shown'][1]}) does not fit the window")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="the HTML file `snakemake --report` wrote")
    parser.add_argument("--screenshots", type=Path, help="folder for one PNG per result")
    parser.add_argument("--chromium", help="Chromium binary (default: $CHROMIUM or the first on PATH)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        parser.error(f"no Chromium (tried {', '.join(CHROMIUM_NAMES)}); pass --chromium or set $CHROMIUM")
    shown, errors = render_report(args.report, chromium, args.screenshots, args.width, args.height)
    failed = False
    for item in shown:
        issues = problems(item)
        failed |= bool(issues)
        image = item["image"]
        size = f"{image['shown'][0]}x{image['shown'][1]} ({image['scale']:.0%})" if image else "-"
        print(f"{'FAIL' if issues else 'ok  '} {item['category']:<9} {size:<17} {item['path']}")
        for issue in issues:
            print(f"       {issue}")
    for error in errors:
        print(f"page error: {error}")
    images = sum(1 for item in shown if item["image"])
    print(f"{len(shown)} results, {images} images shown, {len(errors)} page errors")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
