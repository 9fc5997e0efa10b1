"""Chapter 3's code, the lab: pick a penalty (none, L1, L2) and its strength λ; watch the weights, the fit and the losses."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from knobs import overfit
from knobs.lab import Choice, Lab, Slider
from knobs.figures import LEGEND_SIZE, PALETTE, style_axes
from knobs.lab.views import CurvesView, View

WEIGHT_SPAN = 3.0  # the histogram's x range: ±3 holds nearly every weight of the curve MLP


@lru_cache(maxsize=1)
def curve_data() -> overfit.CurveData:
    """The lab's 15 noisy points (and 500 fresh ones), built once per session."""
    return overfit.make_curve_data()


class FitView(View):
    """The training points and the true curve (drawn once) and the network's fitted function (moves)."""

    title = "the fitted function"

    def __init__(self, data: overfit.CurveData):
        super().__init__()
        self.data = data

    def setup(self, ax, total_steps):
        x = self.data.grid.squeeze(1).numpy()
        ax.plot(x, self.data.truth(self.data.grid).squeeze(1).numpy(), "k--", lw=1, label="true curve")
        ax.plot(self.data.X.squeeze(1).numpy(), self.data.y.squeeze(1).numpy(), "o", color=PALETTE[1], ms=4,
                label="training points")
        self.line = self._keep(ax.plot(x, np.zeros_like(x), color=PALETTE[0], lw=2, label="network")[0])
        ax.set_xlim(-1, 1)
        ax.set_ylim(-2, 2)
        style_axes(ax, self.title, xlabel="x")
        ax.legend(fontsize=LEGEND_SIZE, loc="lower right")

    def update(self, snap, history):
        self.line.set_ydata(np.clip(np.nan_to_num(snap.info["fit"]), -10, 10))
        return False

    def describe(self, snap):
        fit = snap.info["fit"]
        wiggle = float(np.abs(np.diff(fit, 2)).sum())  # total curvature: large when the fit zig-zags
        return (f"The fitted function ranges from {fit.min():.2f} to {fit.max():.2f} "
                f"(wiggliness {wiggle:.2f}; the true curve's is "
                f"{float(np.abs(np.diff(self.data.truth(self.data.grid).squeeze(1).numpy(), 2)).sum()):.2f}).")


class WeightHistogramView(View):
    """Histogram of the nonzero weights, with the weights that are exactly 0.0 as their own orange bar.

    A log count axis keeps both readable: ~1,000 weights at zero and a handful elsewhere.
    Axes are fixed, so every frame is a blit.
    """

    title = "weights (orange: exactly zero)"

    def __init__(self, params, span: float = WEIGHT_SPAN, bins: int = 48, total: int | None = None):
        super().__init__()
        self.params, self.span, self.total = list(params), span, total
        self.edges = np.linspace(-span, span, bins + 1)

    def _values(self, snap):
        return np.concatenate([snap.params[p].ravel() for p in self.params])

    def setup(self, ax, total_steps):
        style_axes(ax, self.title, xlabel="weight value", ylabel="how many (log)")
        ax.set_yscale("log")
        ax.set_xlim(-self.span, self.span)
        ax.set_ylim(0.8, 2 * (self.total or 2000))
        self.stairs = self._keep(ax.stairs(np.zeros(len(self.edges) - 1), self.edges, fill=True,
                                           color=PALETTE[0], baseline=0.8))
        width = self.edges[1] - self.edges[0]
        self.zero_bar = self._keep(ax.bar([0.0], [0.8], width=width * 0.6, bottom=0.8, color=PALETTE[5])[0])

    def update(self, snap, history):
        values = np.nan_to_num(self._values(snap))
        nonzero = values[values != 0]
        counts, _ = np.histogram(np.clip(nonzero, -self.span, self.span), self.edges)
        self.stairs.set_data(np.maximum(counts, 0.8))
        self.zero_bar.set_height(max(int((values == 0).sum()), 0.8) - 0.8 + 1e-9)
        return False

    def describe(self, snap):
        values = self._values(snap)
        zeros = int((values == 0).sum())
        return (f"Histogram of the {len(values)} weights: {zeros} ({zeros / len(values):.0%}) exactly zero; "
                f"mean size of the weights {np.abs(values).mean():.3f}, largest {np.abs(values).max():.2f}.")


def curve_loss_view(noise: float) -> CurvesView:
    """Train and validation mean squared error on a log axis, with the noise level no model can beat."""
    return CurvesView(["train_loss", "val_loss"], title="loss (mean squared error)", ylim=(5e-4, 2.0), log=True,
                      reference={"noise level": noise ** 2},
                      summary="Loss up to step {step}: train {train_loss:.3f}, validation {val_loss:.3f} "
                              f"(noise level {noise ** 2:.3f}).")


def penalty_run(values, steps, every):
    data = curve_data()
    model = overfit.make_curve_mlp(seed=0)
    return overfit.train_curve(model, data, values["kind"], values["lam"], steps=steps, every=every)


def penalty_lab() -> Lab:
    data = curve_data()
    n_weights = sum(w.numel() for w in overfit.make_curve_mlp().weights())
    return Lab(
        name="ch03-penalties",
        title="L1 or L2: what a penalty does to the weights",
        controls=[
            Choice("kind", "penalty", ("none", "L1", "L2"), "none"),
            Slider("lam", "strength λ", 0.01, 30.0, 0.3, log=True, twin=(0.3, 1.0, 10.0)),
        ],
        run=penalty_run,
        views=[lambda: FitView(data),
               lambda: WeightHistogramView(overfit.CURVE_WEIGHTS, total=n_weights),
               lambda: curve_loss_view(data.noise)],
        steps=800, every=5, twin_frames=7, play_seconds=6,
    )


LABS = [penalty_lab]
