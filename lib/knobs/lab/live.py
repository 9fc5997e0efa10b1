"""The live face of a lab: ipywidgets controls, Play / Pause / Step / Reset, one image.

Training runs on a background thread in chunks of `lab.every` steps, so a
click on Pause (handled by the kernel's main thread) takes effect after at
most one chunk. Each frame is blitted and encoded by the lab's Renderer and
pushed as JPEG bytes into an Image widget: no figure is re-created.
"""
from __future__ import annotations

import html
import threading
import time

import ipywidgets as w

from knobs.lab.lab import Lab
from knobs.validate import check_instance


class LiveLab:
    def __init__(self, lab):
        check_instance("lab", lab, Lab, "a Lab")
        self.lab = lab
        self.controls = {c.name: c.widget() for c in lab.controls}
        self.play_button = w.Button(description="Play", icon="play", tooltip="Train continuously")
        self.step_button = w.Button(description="Step", icon="step-forward", tooltip=f"Train {lab.every} steps")
        self.reset_button = w.Button(description="Reset", icon="undo", tooltip="Start again from step 0")
        self.image = w.Image(format="jpeg")
        self.status = w.HTML()
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(lab.title)}</b>"),
            w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.play_button, self.step_button, self.reset_button]),
            self.image, self.status,
        ])
        self._lock = threading.Lock()
        self._playing = False
        self._thread = None
        self.frames_drawn = 0
        for control in self.controls.values():
            control.observe(self._on_control, names="value")
        self.play_button.on_click(self._on_play)
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        self.reset()

    # ---- actions (also what tests call) ---------------------------------------------
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def reset(self) -> None:
        with self._lock:
            try:
                self.lab.reset(self.values())
            except ValueError as error:  # a value the controls should not allow: say so, keep going
                self._show_status(str(error), warning=True)
                return
            self._push()

    def step(self) -> bool:
        with self._lock:
            more = self.lab.advance()
            self._push()
        return more

    def play(self) -> None:
        if self._playing:
            return
        if self.lab.finished:
            self.reset()
        self._playing = True
        self.play_button.description, self.play_button.icon = "Pause", "pause"
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        self._playing = False
        self.play_button.description, self.play_button.icon = "Play", "play"

    def wait(self, timeout: float = 30.0) -> None:
        """Block until the background run pauses or ends (tests, scripts)."""
        if self._thread is not None:
            self._thread.join(timeout)

    # ---- plumbing ----------------------------------------------------------------
    def _on_play(self, _button) -> None:
        self.pause() if self._playing else self.play()

    def _on_control(self, _change) -> None:
        was_playing = self._playing
        self.pause()
        self.wait()
        self.reset()
        if was_playing:
            self.play()

    def _loop(self) -> None:
        interval = 1.0 / self.lab.fps
        try:
            while self._playing:
                started = time.perf_counter()
                if not self.step():
                    break
                time.sleep(max(0.0, interval - (time.perf_counter() - started)))
        except Exception as error:  # never let a thread die silently with a traceback
            self._show_status(f"The lab stopped unexpectedly: {error}", warning=True)
        finally:
            self.pause()

    def _push(self) -> None:
        self.image.value = self.lab.frame("jpeg")
        self.frames_drawn += 1
        self._show_status(self.lab.status, warning=bool(self.lab.status))

    def _show_status(self, text: str, warning: bool = False) -> None:
        if warning:
            self.status.value = f'<span style="color:#B00020;font-weight:bold">⚠ {html.escape(text)}</span>'
        elif self.lab.snapshot is not None:
            m = self.lab.snapshot.metrics
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in m.items() if k.endswith("loss"))
            self.status.value = f"step {self.lab.snapshot.step} / {self.lab.steps} &nbsp; {shown}"
