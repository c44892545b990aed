"""Drive Debian's headless Chromium over the Chrome DevTools Protocol: load a page, read its console, screenshot it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


def find_or_install_chromium() -> tuple[str | None, str]:
    """The chromium binary, installing Debian's package as root when missing; else (None, why not)."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found, ""
    if not shutil.which("apt-get"):
        return None, "chromium is not installed and there is no apt-get to install it"
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it needs root (apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if done.returncode != 0:
            return None, f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
    found = shutil.which("chromium")
    return (found, "") if found else (None, "apt-get installed chromium but no chromium binary is on PATH")


class Browser:
    """One headless Chromium with a fresh profile and one page; events are collected while commands run."""

    def __init__(self, binary: str, width: int = 1400, height: int = 1000, deadline_s: float = 120.0) -> None:
        self.profile = tempfile.mkdtemp(prefix="chardial-chromium-")
        self.process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so close() stops the renderers and helpers too
        )
        self.deadline_s = deadline_s
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self.socket: ClientConnection | None = None
        try:
            self.socket = connect(self._browser_url(), max_size=None, open_timeout=deadline_s)
            target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def _browser_url(self) -> str:
        # Chromium writes the port it picked and the browser's websocket path here once it listens.
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode} before opening its DevTools port")
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.1)
        raise TimeoutError(f"chromium did not open its DevTools port within {self.deadline_s}s")

    def _call(self, method: str, params: dict | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        assert self.socket is not None, "the DevTools connection is closed"
        self.socket.send(json.dumps(message))
        return self._wait_for(self._next_id, method, self.socket)

    def _wait_for(self, call_id: int, method: str, socket: ClientConnection) -> dict[str, Any]:
        deadline = time.monotonic() + self.deadline_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {method} within {self.deadline_s}s")
            reply = json.loads(socket.recv(timeout=remaining))
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def send(self, method: str, params: dict | None = None) -> dict[str, Any]:
        """Run one DevTools command on the page and return its result."""
        return self._call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression on the page (promises awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, url: str, ready: str) -> None:
        """Navigate to `url` and wait until the JavaScript expression `ready` is true."""
        self.send("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.deadline_s
        while not self.evaluate(f"Boolean({ready})"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url}: {ready} still false after {self.deadline_s}s; console errors: {self.console_errors()}")
            time.sleep(0.2)

    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser log errors (CSP violations, failed loads) seen so far."""
        errors = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
            elif event["method"] == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif event["method"] == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return errors

    def console_warnings(self) -> list[str]:
        """console.warn messages seen so far (Vega logs spec problems as warnings)."""
        return [
            " ".join(str(arg.get("value", arg.get("description", ""))) for arg in event["params"].get("args", []))
            for event in self.events
            if event["method"] == "Runtime.consoleAPICalled" and event["params"].get("type") == "warning"
        ]

    def requested_urls(self) -> list[str]:
        """Every URL the page asked the network stack for."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path) -> None:
        """A PNG of the whole page, not only the viewport."""
        width = self.evaluate("document.documentElement.scrollWidth")
        height = self.evaluate("document.documentElement.scrollHeight")
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        """Stop this Chromium and delete its profile."""
        if self.socket is not None:
            self.socket.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
