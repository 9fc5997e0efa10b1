"""A quiz in JupyterLab, offline: run `quiz.show("ch01")` in a real JupyterLab and answer it in chromium.

The static book is tested in test_teacher_html.py; this is the learner's side. Slow (a JupyterLab
server and a kernel start), so it runs with the browser tests (make test-html), not with test-lib.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from knobs.exercises import quiz

pytestmark = [pytest.mark.html, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('from knobs.exercises import quiz\nquiz.show("ch01")')])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "quiz.ipynb"))
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", f"--port={port}", "--ServerApp.token=",
         "--ServerApp.password=", "--ServerApp.allow_root=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", f"--ServerApp.root_dir={tmp_path}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/quiz.ipynb"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernel it started, nothing else
        server.wait(timeout=30)


def test_quiz_works_in_jupyterlab_without_network(jupyterlab, chromium):
    question = quiz.load_questions("ch01")[1]
    right = next(a for a in question["answers"] if a["correct"])
    wrong = next(a for a in question["answers"] if not a["correct"])
    page = chromium.new_page(viewport={"width": 1200, "height": 1000})  # the suite's one Playwright session
    try:
        external = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("http://127.0.0.1", "ws:", "data:"))
                   else (external.append(r.request.url), r.abort()))
        page.goto(jupyterlab, timeout=120_000)
        page.wait_for_function("document.body.innerText.includes('| Idle')", timeout=180_000)  # kernel ready
        page.get_by_text("Run", exact=True).first.click()  # the menu, as a learner would
        page.get_by_text("Run All Cells", exact=True).first.click()
        card = page.locator("#knobsquizch01 .Quiz").nth(1)
        card.wait_for(timeout=180_000)
        card.locator("label.MCButton", has_text=wrong["answer"]).click()
        assert card.locator(".Feedback").inner_text().strip() == wrong["feedback"]
        card.locator("label.MCButton", has_text=right["answer"]).click()
        assert card.locator(".Feedback").inner_text().strip() == right["feedback"]
        assert "correct" in card.locator(".Feedback").get_attribute("class").split()
        assert external == []
    finally:
        page.close()
