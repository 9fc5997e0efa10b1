"""The lab pattern: declare controls + run + views once, get a live lab and a static twin.

    lab = Lab("ch01-hyper", "Turn the hyperparameters", controls=[...], run=run, views=[...], steps=300, every=10)
    lab.show()   # live ipywidgets lab in Jupyter; static twin when the book is built

`run(values, steps, every)` is a generator of Snapshots (see knobs.train). A control named
"steps" sets the run's length (a learner's knob; the twin needs exactly one value of it).
The live face trains in chunks of `every` steps on a background thread, so
Pause answers between chunks; the twin face precomputes frames over each
control's `twin` values at build time and plays them with a small JS player.
Training code never imports ipywidgets; this module is the only glue.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from knobs.lab.render import Renderer
from knobs.lab.views import History
from knobs.runtime import static_mode
from knobs.validate import (ArgumentTypeError, check_bool, check_callable, check_instance, check_int, check_number,
                            check_text, fail)


@dataclass
class Slider:
    """A number knob between `min` and `max` (log scale for rates)."""

    name: str
    label: str
    min: float
    max: float
    default: float
    log: bool = False
    integer: bool = False
    twin: tuple = ()  # the values the static twin precomputes (default: min, default, max)
    fmt: str = "{:g}"

    def __post_init__(self):
        _check_control(self)
        for name in ("min", "max", "default"):
            check_number(name, getattr(self, name))
        check_bool("log", self.log)
        check_bool("integer", self.integer)
        if not self.min < self.max or not self.min <= self.default <= self.max:
            raise ValueError(f"control {self.name}: need min < max and min <= default <= max, "
                             f"got min={self.min:g}, max={self.max:g}, default={self.default:g}")
        if self.log and self.min <= 0:
            raise ValueError(f"control {self.name}: a log-scale slider needs min > 0")
        self.twin = tuple(self.twin) or (self.min, self.default, self.max)
        _check_twin(self)

    def validate(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{self.label} must be a number between {self.min:g} and {self.max:g}, got {value!r}")
        if not self.min <= value <= self.max:
            raise ValueError(f"{self.label} must be between {self.min:g} and {self.max:g}, got {value:g}")
        return int(round(value)) if self.integer else float(value)

    def widget(self):
        import ipywidgets as w

        common = dict(description=self.label, value=self.default, continuous_update=False,
                      style={"description_width": "initial"})
        if self.log:
            return w.FloatLogSlider(base=10, min=math.log10(self.min), max=math.log10(self.max), step=0.1, **common)
        if self.integer:
            return w.IntSlider(min=int(self.min), max=int(self.max), **common)
        return w.FloatSlider(min=self.min, max=self.max, step=(self.max - self.min) / 100, **common)


@dataclass
class Choice:
    """A knob with named options (optimizer, penalty kind, ...)."""

    name: str
    label: str
    options: tuple
    default: str = None
    twin: tuple = ()
    fmt: str = "{}"

    def __post_init__(self):
        _check_control(self)
        if not isinstance(self.options, (tuple, list)) or not self.options:
            fail("options", "a tuple of at least one option", self.options)
        self.options = tuple(self.options)
        self.default = self.options[0] if self.default is None else self.default
        try:
            self.validate(self.default)
        except ValueError as error:
            raise ValueError(f"default: {error}") from None
        self.twin = tuple(self.twin) or self.options
        _check_twin(self)

    def validate(self, value):
        if value not in self.options:
            raise ValueError(f"{self.label} must be one of {', '.join(map(str, self.options))}; got {value!r}")
        return value

    def widget(self):
        import ipywidgets as w

        return w.Dropdown(description=self.label, options=self.options, value=self.default,
                          style={"description_width": "initial"})


def _check_control(control) -> None:
    check_text("name", control.name, empty=False)
    check_text("label", control.label, empty=False)
    check_text("fmt", control.fmt)
    if not isinstance(control.twin, (tuple, list)):
        fail("twin", "a tuple of the values the static twin precomputes", control.twin, ArgumentTypeError)


def _check_twin(control) -> None:
    for value in control.twin:
        try:
            control.validate(value)
        except ValueError as error:
            raise ValueError(f"twin: {error}") from None


DIVERGED = "Diverged at step {step}: the loss became {loss}. Lower the learning rate and press Reset."


@dataclass
class Lab:
    name: str  # unique id, e.g. "ch01-hyperparameters" (used by the benchmark and the twin's HTML)
    title: str
    controls: list
    run: callable  # run(values, steps, every) -> iterator of Snapshots
    views: list  # zero-argument callables returning fresh View objects
    steps: int = 300
    every: int = 10  # training steps per live frame
    twin_frames: int = 7  # frames per control setting in the static twin
    panel_size: tuple | None = None  # (width, height) in CSS px of every view's panel (None: each view's own size)
    play_seconds: float = 4.0  # Play shows a whole run in about this long (live and twin), at normal speed
    fps: float = 30.0  # live redraws per second, at most
    status: str = field(default="", init=False)

    def __post_init__(self):
        check_text("name", self.name, empty=False)
        check_text("title", self.title)
        if not isinstance(self.controls, (list, tuple)) or not all(isinstance(c, (Slider, Choice))
                                                                    for c in self.controls):
            fail("controls", "a list of Slider and Choice controls", self.controls, ArgumentTypeError)
        check_callable("run", self.run, "a function run(values, steps, every) yielding Snapshots")
        if not isinstance(self.views, (list, tuple)) or not all(callable(v) for v in self.views):
            fail("views", "a list of functions that each return a fresh View", self.views, ArgumentTypeError)
        check_int("steps", self.steps, 1)
        check_int("every", self.every, 1)
        check_int("twin_frames", self.twin_frames, 2)
        if self.panel_size is not None and (not isinstance(self.panel_size, (tuple, list)) or len(self.panel_size) != 2
                                            or not all(isinstance(s, int) and s > 0 for s in self.panel_size)):
            fail("panel_size", "a pair (width, height) of CSS px, or None", self.panel_size)
        check_number("play_seconds", self.play_seconds, 0, 600, low_open=True)
        check_number("fps", self.fps, 0, 120, low_open=True)

    # ---- the engine both faces share -------------------------------------------------
    def defaults(self) -> dict:
        return {c.name: c.default for c in self.controls}

    def validated(self, values: dict | None) -> dict:
        if values is not None:
            check_instance("values", values, dict, "a dict of control name -> value (or None)")
        values = {**self.defaults(), **(values or {})}
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise ValueError(f"values must name this lab's controls {[c.name for c in self.controls]}, "
                             f"got unknown control(s) {sorted(unknown)}")
        return {c.name: c.validate(values[c.name]) for c in self.controls}

    def reset(self, values: dict | None = None, every: int | None = None) -> None:
        """Start a fresh run with these control values and draw its step-0 frame."""
        self.values = self.validated(values)
        if "steps" in self.values:  # a "steps" knob sets the run's length
            self.steps = int(self.values["steps"])
        self.renderer = Renderer([make() for make in self.views], self.steps, self.panel_size)
        self.history, self.snapshot, self.finished, self.status = History(), None, False, ""
        self._run = self.run(dict(self.values), steps=self.steps, every=every or self.every)
        self.advance()

    def advance(self, draw: bool = True) -> bool:
        """Train one chunk and redraw; False once the run has ended (done, diverged or failed)."""
        if self.finished:
            return False
        try:
            snap = next(self._run)
        except StopIteration:
            self.finished = True
            return False
        except (ValueError, RuntimeError, FloatingPointError) as error:  # shown in the lab, not as a traceback
            self.finished, self.status = True, f"This run stopped: {error}"
            return False
        self.snapshot = snap
        self.history.add(snap)
        if snap.diverged:
            loss = snap.metrics.get("train_loss", float("nan"))
            self.finished, self.status = True, DIVERGED.format(step=snap.step, loss=loss)
        if draw:
            self.redraw()
        return not self.finished

    def redraw(self) -> None:
        self.renderer.draw(self.snapshot, self.history, alert=self.status.split(":")[0] if self.status else "")

    def summary(self) -> str:
        """The current frame in one line: the settings, the step, and why the run stopped if it did."""
        settings = ", ".join(f"{c.label} {c.fmt.format(self.values[c.name])}" for c in self.controls)
        return f"{settings}. Step {self.snapshot.step} of {self.steps}. {self.status}".strip()

    def panel_descriptions(self) -> list[str]:
        """Alt text of each panel: what its view shows now."""
        return [v.describe(self.snapshot) for v in self.renderer.views]

    def describe(self) -> str:
        """The whole frame described: the title, the summary and what each panel shows."""
        return f"{self.title}. {self.summary()} " + " ".join(self.panel_descriptions())

    def frame(self, fmt: str = "jpeg") -> bytes:
        """All panels of the current frame in one image, side by side (scripts and tests)."""
        return self.renderer.encode(fmt)

    def changed_panels(self, fmt: str = "jpeg") -> dict[int, bytes]:
        """{panel index: encoded image} of the panels that changed since the last call (what the live face sends)."""
        return {i: self.renderer.panels[i].encode(fmt) for i in self.renderer.changed_panels()}

    def frame_interval(self, speed: float = 1.0) -> float:
        """Seconds between live frames so that Play shows the whole run in play_seconds / speed."""
        frames = max(1, math.ceil(self.steps / self.every))
        return max(1.0 / self.fps, self.play_seconds / speed / frames)

    def twin_steps(self) -> list[int]:
        """The steps at which the static twin keeps a frame: evenly spaced from 0 to the end of the run."""
        steps = self.steps
        control = next((c for c in self.controls if c.name == "steps"), None)
        if control is not None:
            if len(control.twin) != 1:
                raise ValueError(f"{self.name}: the twin needs exactly one value of the 'steps' control "
                                 f"(its frames share one time axis), got {control.twin}")
            steps = int(control.twin[0])
        return frame_steps(steps, self.twin_frames)

    # ---- the two faces ------------------------------------------------------------
    def live(self):
        """The ipywidgets face (Jupyter, Binder, Colab)."""
        from knobs.lab.live import LiveLab

        return LiveLab(self)

    def twin_html(self, progress: bool = True) -> str:
        """The static face: frames over the twin grid, played by a self-contained JS player."""
        from knobs.lab.twin import build_twin_html

        return build_twin_html(self, progress=progress)

    def show(self):
        """Display the live lab, or its static twin while the book is built."""
        from IPython.display import HTML, display

        if static_mode():  # no progress bar: it would leave widget state (a dead control) in the page
            display(HTML(self.twin_html(progress=False)))
        else:
            display(self.live().widget)


def frame_steps(steps: int, n_frames: int) -> list[int]:
    """Evenly spaced steps 0 .. steps (both included) where a twin keeps a frame."""
    check_int("steps", steps, 1)
    check_int("n_frames (the lab's twin_frames)", n_frames, 2)
    return sorted({round(i * steps / (n_frames - 1)) for i in range(n_frames)})


def time_frames(lab: Lab, n: int = 30, values: dict | None = None) -> list[float]:
    """Milliseconds per live frame (train a chunk + redraw + encode the panels that changed), for the benchmark."""
    check_instance("lab", lab, Lab, "a Lab")
    check_int("n", n, 1)
    lab.reset(values)
    lab.changed_panels()
    times = []
    while len(times) < n:
        if lab.finished:
            lab.reset(values)
            lab.changed_panels()
        start = time.perf_counter()
        lab.advance()
        lab.changed_panels("jpeg")
        times.append((time.perf_counter() - start) * 1e3)
    return times
