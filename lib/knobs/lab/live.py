"""The live face of a lab: ipywidgets controls, Play / Pause / Step / Reset and a speed, one image per panel.

Training runs on a background thread in chunks of `lab.every` steps, so a click on Pause (handled
by the kernel's main thread) takes effect after at most one chunk. Play is paced so that a whole
run takes about `lab.play_seconds` at normal speed (slow: twice as long; fast: half), however
cheap the chunks are: a learner can follow the parameters move. Each frame is blitted by the
lab's Renderer; only the panels whose pixels changed are encoded (JPEG at 2 pixels per CSS px,
sharp on a retina screen) and sent to their Image widget, shown at its CSS size. The panels wrap:
side by side where the notebook is wide, one under another where it is narrow.
"""
from __future__ import annotations

import html
import threading
import time

import ipywidgets as w

from knobs.lab.lab import Lab
from knobs.validate import check_instance

SPEEDS = {"slow": 0.5, "normal": 1.0, "fast": 2.0, "fastest": None}  # None: as fast as the frames can be drawn


class LiveLab:
    def __init__(self, lab):
        check_instance("lab", lab, Lab, "a Lab")
        self.lab = lab
        self.controls = {c.name: c.widget() for c in lab.controls}
        self.play_button = w.Button(description="Play", icon="play", tooltip="Train continuously")
        self.step_button = w.Button(description="Step", icon="step-forward", tooltip=f"Train {lab.every} steps")
        self.reset_button = w.Button(description="Reset", icon="undo", tooltip="Start again from step 0")
        self.speed = w.Dropdown(description="speed", options=list(SPEEDS), value="normal",
                                style={"description_width": "initial"}, layout=w.Layout(width="11em"))
        lab.reset(self.values())  # the first run: its renderer knows the panels' sizes
        self.images = [w.Image(format="jpeg", layout=w.Layout(width=f"{width}px", max_width="100%", height="auto",
                                                               margin="0 8px 8px 0"))
                       for width, _ in lab.renderer.css_sizes()]
        self.image = self.images[0]  # the first panel (what a script that expects one image gets)
        self.description = w.HTML()
        self.status = w.HTML()
        self.widget = w.VBox([
            w.HTML(f"<b>{html.escape(lab.title)}</b>"),
            w.GridBox(list(self.controls.values()),
                      layout=w.Layout(grid_template_columns="repeat(auto-fill, minmax(300px, 1fr))",
                                      grid_gap="2px 16px")),
            w.HBox([self.play_button, self.step_button, self.reset_button, self.speed],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            w.Box(self.images, layout=w.Layout(display="flex", flex_flow="row wrap", align_items="flex-start")),
            self.description, self.status,
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
        self._push()  # the step-0 frame of the run started above

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

    def interval(self) -> float:
        """Seconds between frames while playing, at the chosen speed."""
        speed = SPEEDS[self.speed.value]
        return 1.0 / self.lab.fps if speed is None else self.lab.frame_interval(speed)

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
        try:
            while self._playing:
                started = time.perf_counter()
                if not self.step():
                    break
                time.sleep(max(0.0, self.interval() - (time.perf_counter() - started)))
        except Exception as error:  # never let a thread die silently with a traceback
            self._show_status(f"The lab stopped unexpectedly: {error}", warning=True)
        finally:
            self.pause()
            self._describe()

    def _push(self) -> None:
        for i, data in self.lab.changed_panels("jpeg").items():
            self.images[i].value = data
        self.frames_drawn += 1
        self._show_status(self.lab.status, warning=bool(self.lab.status))
        if not self._playing:  # while playing, the description would change faster than anyone can read it
            self._describe()

    def _describe(self) -> None:
        if self.lab.snapshot is not None:
            self.description.value = (f"<details><summary>Describe this picture</summary>"
                                      f"{html.escape(self.lab.describe())}</details>")

    def _show_status(self, text: str, warning: bool = False) -> None:
        if warning:
            self.status.value = f'<span style="color:#B00020;font-weight:bold">⚠ {html.escape(text)}</span>'
        elif self.lab.snapshot is not None:
            m = self.lab.snapshot.metrics
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in m.items() if k.endswith("loss"))
            self.status.value = f"step {self.lab.snapshot.step} / {self.lab.steps} &nbsp; {shown}"
