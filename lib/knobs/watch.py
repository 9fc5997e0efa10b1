"""knobs.watch(model): live views of any nn.Module's parameters while *your* loop trains it.

    watcher = knobs.watch(model)
    for X, y in batches:              # your own loop, unchanged
        loss = loss_fn(model(X), y); opt.zero_grad(); loss.backward(); opt.step()
    watcher.close()                    # final frame, hooks removed

Hooks do the work: each parameter's gradient norm is recorded right after
backward accumulates it; a redraw happens on a forward pass once enough time
has passed. The interval adapts to what a redraw costs, so drawing takes at
most `budget` (15%) of the loop's time. Output goes through an IPython display
handle (no widget), so the executed book keeps the final picture.
"""
from __future__ import annotations

import time

from torch import nn

from knobs.render import Renderer
from knobs.train import take_snapshot
from knobs.views import PALETTE, FigureWithAlt, HeatmapView, HistogramView, History, View


class GradNormView(View):
    """Gradient norm of each parameter tensor over the steps, on a log scale."""

    title = "gradient norm per tensor"

    def __init__(self, names):
        super().__init__()
        self.names = list(names)

    def setup(self, ax, total_steps):
        self.ax = ax
        ax.set_title(self.title, fontsize=9)
        ax.set_yscale("log")
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        self.lines = {n: self._keep(ax.plot([], [], lw=1.2, color=PALETTE[i % len(PALETTE)], label=n)[0])
                      for i, n in enumerate(self.names)}
        ax.legend(fontsize=6, loc="lower left")
        self.limits = None

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
        if high == 0.0:
            return False
        wanted = (0, max(10, history.steps[-1] * 1.25), low / 2, high * 2)
        if self.limits is None or history.steps[-1] > self.limits[1] or low < self.limits[2] or high > self.limits[3]:
            self.limits = wanted
            self.ax.set_xlim(*wanted[:2])
            self.ax.set_ylim(*wanted[2:])
            return True
        return False

    def describe(self, snap):
        norms = {k.split("/", 1)[1]: v for k, v in snap.metrics.items() if k.startswith("grad_norm/")}
        return "Gradient norms: " + ", ".join(f"{k} {v:.2g}" for k, v in norms.items()) + "."


class Watcher:
    def __init__(self, model: nn.Module, every_seconds: float = 0.25, budget: float = 0.15, display: bool = True,
                 every_step: bool = False):
        if not isinstance(model, nn.Module):
            raise ValueError(f"watch needs a torch.nn.Module, got {type(model).__name__}")
        if not 0 < budget < 1:
            raise ValueError(f"budget must be between 0 and 1 (a fraction of the loop's time), got {budget}")
        self.model, self.every_seconds, self.budget = model, every_seconds, budget
        # every_step: record each tensor's gradient norm at every step (a few microseconds per tensor), not only
        # when a redraw is near, so the gradient panel shows the whole run even when redraws are rare.
        self.every_step, self.grad_log = every_step, {}
        self.names = [n for n, p in model.named_parameters() if p.requires_grad]
        if not self.names:
            raise ValueError("this model has no trainable parameters to watch")
        views = [HeatmapView(n) if p.dim() == 2 and p.numel() <= 65536 else HistogramView(n, title=n)
                 for n, p in model.named_parameters() if p.requires_grad]
        views.append(GradNormView(self.names))
        self.renderer = Renderer(views, total_steps=1, ncols=min(3, len(views)),
                                 figsize=(9.5, 2.3 * -(-len(views) // 3)), layout=None)
        self.history, self.step, self.grad_norms = History(), 0, {}
        self.draw_seconds, self.draws, self._last_draw = 0.0, 0, 0.0
        self.handle = None
        self._hooks = [model.register_forward_pre_hook(self._on_forward)]
        for name, param in model.named_parameters():
            if param.requires_grad:
                self._hooks.append(param.register_post_accumulate_grad_hook(self._grad_hook(name)))
        self._display = display

    def _interval(self) -> float:
        # Wait long enough that drawing costs at most `budget` of the loop's time.
        return max(self.every_seconds, (self.draw_seconds / max(self.draws, 1)) / self.budget)

    def _grad_hook(self, name):
        def record(param):
            near_draw = time.perf_counter() - self._last_draw >= self._interval()
            if self.every_step or near_draw or name not in self.grad_norms:
                self.grad_norms[name] = float(param.grad.detach().norm())  # only when a draw is near
                if self.every_step:
                    steps, norms = self.grad_log.setdefault(name, ([], []))
                    steps.append(self.step)
                    norms.append(self.grad_norms[name])
        return record

    def _on_forward(self, module, inputs):
        if module.training:
            self.step += 1
        if time.perf_counter() - self._last_draw >= self._interval():
            self.draw()

    def draw(self) -> None:
        started = time.perf_counter()
        metrics = {f"grad_norm/{n}": v for n, v in self.grad_norms.items()}
        snap = take_snapshot(self.model, self.step, metrics,
                             {"grad_norms_every_step": self.grad_log} if self.every_step else None)
        self.history.add(snap)
        self.renderer.draw(snap, self.history)
        self.snapshot = snap
        if self._display:
            image = FigureWithAlt(self.renderer.encode("png"), self.describe())
            if self.handle is None:
                from IPython.display import display

                self.handle = display(image, display_id=True)
            else:
                self.handle.update(image)
        self.draws += 1
        self.draw_seconds += time.perf_counter() - started
        self._last_draw = time.perf_counter()

    def describe(self) -> str:
        return (f"Parameters of {type(self.model).__name__} at step {self.step}. "
                + " ".join(v.describe(self.snapshot) for v in self.renderer.views))

    def close(self) -> None:
        """Draw the final state and remove the hooks (the model is left exactly as it was)."""
        for name, param in self.model.named_parameters():
            if name in self.grad_norms and param.grad is not None:
                self.grad_norms[name] = float(param.grad.detach().norm())  # the last backward's gradients
        self.draw()
        for hook in self._hooks:
            hook.remove()
        self._hooks = []


def watch(model: nn.Module, every_seconds: float = 0.25, budget: float = 0.15, display: bool = True,
          every_step: bool = False) -> Watcher:
    """Watch `model`'s parameters and gradient norms live while your own loop trains it.

    every_step=True records every step's gradient norms (chapter 2 plots them per layer), not only those near a redraw.
    """
    return Watcher(model, every_seconds, budget, display, every_step)
