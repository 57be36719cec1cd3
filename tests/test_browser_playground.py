"""The XOR playground tried as a person would: JupyterLab in headless Chromium, Run All, Train, watch the loss fall.

Run with ``uv run --group browser pytest -m browser`` (``.ci/run`` does, as its own step).
Needs Debian's chromium at /usr/bin/chromium (``apt-get install -y chromium``); Playwright's own
browser download is not used. The screenshot lands in test-artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "03_xor_playground.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
STATUS = re.compile(r"step\s+(\d+).*?loss\s+([0-9.]+)", re.S)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"JupyterLab did not answer {url} in time:\n{log.read_text()[-3000:]}")


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on 127.0.0.1 with a one-off token, its own config/runtime/settings dirs and a
    copy of the notebook (so autosave never touches the committed one). Stopped whatever happens."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    env = dict(os.environ)
    for var, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (tmp_path / sub).mkdir()
        env[var] = str(tmp_path / sub)
    # No "get notified about Jupyter news?" toast over the screenshot.
    notifications = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True)
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    token, port = secrets.token_hex(16), _free_port()
    log = tmp_path / "jupyterlab.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.allow_root=True",  # CI runs as root
                "--ServerApp.terminals_enabled=False",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(f"{base}/api/status?token={token}", server, log, time.monotonic() + 90)
        yield f"{base}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for_idle_kernel(page, timeout: float = 90) -> None:
    """Wait until the status bar shows the Python kernel idle, accepting a "Select Kernel" dialog if Lab asks."""
    idle = page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"Python 3 \(ipykernel\) \| Idle"))
    select = page.locator(".jp-Dialog button.jp-mod-accept")
    deadline = time.monotonic() + timeout
    while not (idle.count() and not select.count()):
        if select.count():
            select.first.click()
        assert time.monotonic() < deadline, "the notebook's kernel did not become idle"
        page.wait_for_timeout(250)


def _status(page) -> tuple[int, float]:
    text = page.locator(".playground-status").first.inner_text()
    match = STATUS.search(text)
    assert match, f"the playground's status line does not show a step and a loss: {text!r}"
    return int(match[1]), float(match[2])


def test_playground_trains_in_jupyterlab(jupyterlab, browser_page):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser_page
    try:
        page.goto(jupyterlab)
        page.locator(".jp-Notebook").wait_for()
        _wait_for_idle_kernel(page)

        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

        train = page.locator(".playground-controls button", has_text="Train")
        train.wait_for(timeout=120_000)
        page.locator(".playground-graph svg").first.wait_for()
        step0, loss0 = _status(page)

        train.click()
        started = time.monotonic()
        deadline = started + 120
        while True:
            step, loss = _status(page)
            if step > step0 and loss < 0.5 * loss0:
                break
            assert time.monotonic() < deadline, f"after 120 s the loss shown is {loss} at step {step} (from {loss0})"
            page.wait_for_timeout(500)
        page.wait_for_timeout(5000)  # a little longer, to report a steady rate (compared with the browser site's)
        step, _ = _status(page)
        rate = round(step / (time.monotonic() - started), 1)
        (ARTIFACTS / "playground-timings.json").write_text(json.dumps({"steps per second in JupyterLab": rate}))
        page.locator(".playground-controls button", has_text="Pause").click()
        page.locator(".playground-controls button", has_text="Train").wait_for()

        boundary = page.locator(".playground-boundary svg")
        assert boundary.count() == 1 and boundary.locator("circle.point").count() == 4
        graph = page.locator(".playground-graph svg")
        assert graph.count() >= 1 and graph.first.locator("g.node").count() > 0
    finally:
        # JupyterLab scrolls inside its notebook panel: bring the playground into the viewport for the picture.
        if page.locator(".playground").count():
            page.locator(".playground").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "playground.png"))
