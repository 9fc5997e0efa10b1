"""watch(model): live views of any nn.Module's parameters while *your* loop trains it.

    from knobs.lab.watch import watch
    watcher = watch(model)
    for X, y in batches:              # your own loop, unchanged
        loss = loss_fn(model(X), y); opt.zero_grad(); loss.backward(); opt.step()
    watcher.close()                    # final frame, hooks removed

Hooks do the work: each parameter's gradient norm is recorded right after
backward accumulates it; a redraw happens on a forward pass once enough time
has passed. The first picture (the parameters before training) is drawn when
watch() is called, so the one full draw of the figure happens before the loop.
The interval adapts to what the last redraw cost, so drawing takes at most
`budget` (15%) of the loop's time. Output goes through an IPython display
handle (no widget), so the executed book keeps the final picture.
"""
from __future__ import annotations

import time

from torch import nn

from knobs.figures import LEGEND_SIZE, MUTED, PALETTE, TICK_SIZE, FigureWithAlt, Picture, style_axes, text_sizes
from knobs.lab.render import Renderer
from knobs.lab.views import HeatmapView, HistogramView, History, View
from knobs.train import take_snapshot
from knobs.validate import check_bool, check_module, check_number, check_strings


class GradNormView(View):
    """Gradient norm of each parameter tensor over the steps, on a log scale."""

    title = "gradient norm per tensor"
    size = (328, 232)

    def __init__(self, names):
        super().__init__()
        self.names = check_strings("names", names)

    # Gradient norms of small models sit well inside this range; leaving it costs one full redraw.
    START_LIMITS = (1e-4, 1e2)

    def setup(self, ax, total_steps):
        self.ax = ax
        style_axes(ax, self.title)
        ax.set_yscale("log")
        ax.set_ylim(*self.START_LIMITS)
        # No step numbers on the x axis: the axis stretches as training goes on, and unlabelled it needs no
        # redraw of the figure; the steps shown are written below it by an animated label instead.
        ax.set_xticks([])
        ax.set_xlim(0, 10)
        self.span = self._keep(ax.text(0.5, -0.04, "step", transform=ax.transAxes, ha="center", va="top",
                                       fontsize=TICK_SIZE, color=MUTED))
        # markers: a short loop may give only a few redraws, and one point alone draws no line
        self.lines = {n: self._keep(ax.plot([], [], lw=1.2, marker="o", ms=2.5, color=PALETTE[i % len(PALETTE)],
                                            label=n)[0])
                      for i, n in enumerate(self.names)}
        ax.figure.legend(fontsize=LEGEND_SIZE, loc="outside right upper", frameon=False, handlelength=1.2)

    def update(self, snap, history):
        low, high = float("inf"), 0.0
        every_step = snap.info.get("grad_norms_every_step")  # watch(..., every_step=True): the full record
        for name, line in self.lines.items():
            if every_step is not None:
                xs, ys = every_step.get(name, ([], []))
            else:
                ys = history.metrics.get(f"grad_norm/{name}", [])
                xs = history.steps[-len(ys):] if ys else []
            line.set_data(xs, ys)
            positive = [y for y in ys if y > 0]
            if positive:
                low, high = min(low, min(positive)), max(high, max(positive))
        last = history.steps[-1] if history.steps else 0
        self.ax.set_xlim(0, max(10, last * 1.05))
        self.span.set_text(f"step 0 → {last:,}")
        bottom, top = self.ax.get_ylim()
        if high > 0 and (low < bottom or high > top):  # a decade of room each side: a rare full redraw
            self.ax.set_ylim(min(bottom, low / 10), max(top, high * 10))
            return True
        return False

    def describe(self, snap):
        norms = {k.split("/", 1)[1]: v for k, v in snap.metrics.items() if k.startswith("grad_norm/")}
        return "Gradient norms: " + ", ".join(f"{k} {v:.2g}" for k, v in norms.items()) + "."


class Watcher:
    PANEL = (216, 176)  # CSS px of a tensor's panel

    def __init__(self, model: nn.Module, every_seconds: float = 0.5, budget: float = 0.15, display: bool = True,
                 every_step: bool = False):
        check_module("model", model)
        check_number("every_seconds", every_seconds, 0)
        check_number("budget", budget, 0, 1, low_open=True, high_open=True,
                     must="a number between 0 and 1 (a fraction of the loop's time)")
        check_bool("display", display)
        check_bool("every_step", every_step)
        self.model, self.every_seconds, self.budget = model, every_seconds, budget
        # every_step: record each tensor's gradient norm at every step (a few microseconds per tensor), not only
        # when a redraw is near, so the gradient panel shows the whole run even when redraws are rare.
        self.every_step, self.grad_log = every_step, {}
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        if not self.names:
            raise ValueError("this model has no trainable parameters to watch")
        views = [HeatmapView(n) if p.dim() == 2 and p.numel() <= 65536 else HistogramView(n, title=n)
                 for n, p in model.named_parameters() if p.requires_grad]
        for view in views:
            view.size = self.PANEL  # small panels: three side by side in the book's column
        views.append(GradNormView(self.names))
        self.renderer = Renderer(views, total_steps=1)
        self.history, self.step, self.grad_norms = History(), 0, {}
        self.draw_seconds, self.draws, self._last_draw, self._last_cost = 0.0, 0, 0.0, 0.0
        self._last_forward, self._record_grads = time.perf_counter(), True
        self.handle = None
        self._hooks = [model.register_forward_pre_hook(self._on_forward)]
        for name, param in model.named_parameters():
            if param.requires_grad:
                self._hooks.append(param.register_post_accumulate_grad_hook(self._grad_hook(name)))
        self._display = display
        self.draw()  # the parameters as they start, shown at once: the one full draw happens before the loop
        self._last_cost = 0.0  # ...so it says nothing about what a redraw inside the loop will cost

    def _interval(self) -> float:
        # Wait long enough that drawing costs at most `budget` of the loop's time. The last redraw is the best
        # guess of the next one: usually a cheap blit, now and then a full redraw (new axis limits).
        return max(self.every_seconds, self._last_cost / self.budget)

    def _grad_hook(self, name):
        def record(param):
            if self._record_grads or name not in self.grad_norms:  # only when a draw is near
                self.grad_norms[name] = float(param.grad.detach().norm())
                if self.every_step:
                    steps, norms = self.grad_log.setdefault(name, ([], []))
                    steps.append(self.step)
                    norms.append(self.grad_norms[name])
        return record

    def _on_forward(self, module, inputs):
        if module.training:
            self.step += 1
        now = time.perf_counter()
        step_seconds, self._last_forward = now - self._last_forward, now
        interval = self._interval()
        if now - self._last_draw >= interval:
            self.draw()
            now = time.perf_counter()
        # decided once per step (the hooks run once per tensor): will the next forward draw?
        self._record_grads = self.every_step or now - self._last_draw + 2 * step_seconds >= interval

    def draw(self) -> None:
        started = time.perf_counter()
        metrics = {f"grad_norm/{n}": v for n, v in self.grad_norms.items()}
        snap = take_snapshot(self.model, self.step, metrics,
                             {"grad_norms_every_step": self.grad_log} if self.every_step else None)
        self.history.add(snap)
        self.renderer.draw(snap, self.history)
        self.snapshot = snap
        if self._display:
            image = self.picture()
            if self.handle is None:
                from IPython.display import display

                self.handle = display(image, display_id=True)
            else:
                self.handle.update(image)
        self._last_cost = time.perf_counter() - started
        self.draws += 1
        self.draw_seconds += self._last_cost
        self._last_draw = time.perf_counter()

    def picture(self, final: bool = False) -> FigureWithAlt:
        """The panels as they are now, one image each (JPEG while the loop runs; the final picture, which stays in
        the notebook and the book, lossless WebP with its smallest text size measured)."""
        pictures = []
        for panel in self.renderer.panels:
            smallest = None
            if final:
                smallest = min((size for _, size in text_sizes(panel.figure, panel.view.artists)), default=None)
            fmt = "webp" if final else "jpeg"
            pictures.append(Picture(panel.encode(fmt), fmt, panel.width, panel.height, smallest))
        return FigureWithAlt(pictures, self.describe())

    def describe(self) -> str:
        return (f"Parameters of {type(self.model).__name__} at step {self.step}. "
                + " ".join(v.describe(self.snapshot) for v in self.renderer.views))

    def close(self) -> None:
        """Draw the final state and remove the hooks (the model is left exactly as it was)."""
        for name, param in self.model.named_parameters():
            if name in self.grad_norms and param.grad is not None:
                self.grad_norms[name] = float(param.grad.detach().norm())  # the last backward's gradients
        display, self._display = self._display, False
        self.draw()
        self._display = display
        if display:
            self.handle.update(self.picture(final=True))
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def watch(model: nn.Module, every_seconds: float = 0.5, budget: float = 0.15, display: bool = True,
          every_step: bool = False) -> Watcher:
    """Watch `model`'s parameters and gradient norms live while your own loop trains it.

    every_step=True records every step's gradient norms (chapter 2 plots them per layer), not only those near a redraw.
    """
    return Watcher(model, every_seconds, budget, display, every_step)
