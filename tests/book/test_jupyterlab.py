"""The learner's path, end to end: a real JupyterLab server, a real browser, a chapter's live lab.

Starts JupyterLab on 127.0.0.1 (a free port, a random token, its own config, workspace and root
folders, so nothing in the repository or the user's settings is touched), opens chapter 1 in
Chromium, runs all cells from the Run menu, moves a live-lab slider with the keyboard, presses
Play, and checks that the lab's images change and its loss falls (read from the status line the
LiveLab writes), and that its panels are sharp on a device_scale_factor 2 screen. The server is always stopped, whatever happens.
"""
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import ROOT
from jupyterlab_view import open_notebook

pytestmark = pytest.mark.browser

NOTEBOOK = ROOT / "notebooks" / "01_parameters.ipynb"
LAB_TITLE = "Hyperparameters in, parameters out"  # knobs.chapters.ch01.hyperparameter_lab's title
START_S, RUN_ALL_S, PLAY_S = 90, 300, 60  # generous for a loaded 2-core CI machine, but bounded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLabServer:
    def __init__(self, folder, extra_env=None):
        self.folder, self.port, self.token = folder, free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "config"
        config.mkdir(exist_ok=True)
        # no announcements feed, no update check, no extension search on PyPI: nothing leaves the machine
        settings = {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                               "extension_manager": "readonly"}}
        for name in ("jupyter_server_config.json", "jupyter_lab_config.json"):
            (config / name).write_text(json.dumps(settings))
        # user settings: every cell stays rendered (the default windowing drops off-screen cells from the
        # page, which a test cannot read), and no "get Jupyter news?" prompt
        lab_settings = folder / "lab-settings"
        for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                               "apputils-extension/notification": {"fetchNews": "false"}}.items():
            path = lab_settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
               "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
               "JUPYTERLAB_SETTINGS_DIR": str(folder / "lab-settings"), "MPLBACKEND": "Agg",
               # one torch thread: the tiny model gains nothing from two, and on a 2-core machine shared with
               # Chromium, two threads spin-wait against each other (the chapter ran 10x slower, measured)
               "OMP_NUM_THREADS": "1", **(extra_env or {})}
        env.pop("KNOBS_STATIC", None)  # the learner's path: live labs, not twins
        self.log = open(folder / "server.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", "--allow-root", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={folder / 'root'}", "--LabApp.expose_app_in_browser=True"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_until_ready(self, timeout: float = START_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        self.log.flush()
        return "\n".join((self.folder / "server.log").read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL to its own process group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def jupyterlab(tmp_path):
    (tmp_path / "root").mkdir()
    shutil.copy(NOTEBOOK, tmp_path / "root" / NOTEBOOK.name)  # a copy: autosave must not write outputs into the repo
    server = JupyterLabServer(tmp_path)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
    assert server.process.returncode is not None


def losses(status: str) -> tuple[int, float]:
    """(step, train loss) from the LiveLab's status line: 'step 25 / 300 &nbsp; train loss 2.918, val loss ...'."""
    match = re.search(r"step (\d+) / \d+.*?train loss ([\d.]+|nan|inf)", status)
    assert match, f"unexpected status line {status!r}"
    return int(match.group(1)), float(match.group(2))


def test_live_lab_in_jupyterlab(chromium, jupyterlab, screenshots):
    (screenshots / "jupyterlab-failure.png").unlink(missing_ok=True)  # only a failure of this run leaves one
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, device_scale_factor=2)
    context.set_default_timeout(30_000)
    outside = []
    local = re.compile(rf"^(http://127\.0\.0\.1:{jupyterlab.port}/|ws://127\.0\.0\.1:{jupyterlab.port}/|data:|blob:)")
    context.route(lambda url: not local.match(url), lambda route: (outside.append(route.request.url), route.abort()))
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # opened, a kernel started and idle (asked through the app object JupyterLab exposes for tests); a fresh
        # JupyterLab may first ask which kernel to start (the notebook's own, Python 3, is preselected)
        open_notebook(page, jupyterlab, NOTEBOOK.name, start_timeout_s=START_S)

        # Run ▸ Run All Cells, as a learner would
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        page.get_by_text(re.compile(r"This chapter ran top to bottom in")).wait_for(timeout=RUN_ALL_S * 1000)
        counts = page.evaluate("() => jupyterapp.shell.currentWidget.content.widgets"
                               ".filter(c => c.model.type === 'code').map(c => c.model.executionCount)")
        assert counts and all(isinstance(c, int) for c in counts), f"not every cell ran: {counts}"
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                            has_text="Traceback").count() == 0

        lab = page.locator(".widget-vbox", has_text=LAB_TITLE).first
        lab.scroll_into_view_if_needed()
        image, status = lab.locator("img").first, lab.locator(".widget-html-content").last
        page.wait_for_function("el => el.textContent.includes('step 0 /')", arg=status.element_handle())
        _, loss_at_start = losses(status.inner_text())
        frame_before = image.get_attribute("src")

        # move the hidden-width knob with the keyboard: the run restarts from step 0 with the new width
        knob = lab.locator(".widget-slider", has_text="hidden width")
        readout = knob.locator(".widget-readout")
        width_before = readout.inner_text()
        knob.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("([el, v]) => el.textContent.trim() !== v", arg=[readout.element_handle(), width_before])
        page.wait_for_function("el => el.textContent.includes('step 0 /')", arg=status.element_handle())

        # Play: frames arrive, the status counts steps and the loss falls
        play = lab.locator("button", has_text="Play")
        play.click()
        lab.locator("button", has_text="Pause").wait_for()
        page.wait_for_function(
            "el => { const m = el.textContent.match(/step (\\d+) \\//); return m && +m[1] >= 100; }",
            arg=status.element_handle(), timeout=PLAY_S * 1000)
        step, loss_later = losses(status.inner_text())
        assert step >= 100 and loss_later < loss_at_start - 0.3, (loss_at_start, status.inner_text())
        assert image.get_attribute("src") != frame_before, "the lab's image did not change while it trained"
        # sharp on a retina screen: every panel has at least 2 image pixels per CSS pixel, and they wrap
        panels = lab.locator(".widget-image").evaluate_all(
            "imgs => imgs.map(i => [i.naturalWidth, i.clientWidth, i.getBoundingClientRect().top])")
        assert len(panels) == 4 and all(natural >= 2 * client > 0 for natural, client, _ in panels), panels
        assert len({round(top) for *_, top in panels}) < 4, "the panels stand side by side where there is room"
        lab.screenshot(path=str(screenshots / "jupyterlab-live-lab.png"))
        lab.locator("button", has_text="Pause").click()
        lab.locator("button", has_text="Play").wait_for()
        assert errors == [], errors
        assert outside == [], f"JupyterLab asked the network for {outside}"
    except Exception:
        page.screenshot(path=str(screenshots / "jupyterlab-failure.png"))
        raise
    finally:
        context.close()
