"""Chapter 3's code, the lab: pick a penalty (none, L1, L2) and its strength λ; watch the weights, the fit and the losses."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from knobs import overfit
from knobs.regularize import fit_penalized_linear
from knobs.validate import check_instance, check_int, check_number, fail
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


# What the lab's penalty menu shows -> what overfit.train_curve runs. Both penalties act as their own step
# after Adam's (decoupled), so neither is the L2 or L1 term of the loss: the names say which step it is.
PENALTY_KINDS = {"none": "none", "L1 (soft-threshold)": "L1", "weight decay (AdamW)": "L2"}


def penalty_run(values, steps, every):
    data = curve_data()
    model = overfit.make_curve_mlp(seed=0)
    return overfit.train_curve(model, data, PENALTY_KINDS[values["kind"]], values["lam"], steps=steps, every=every)


def penalty_lab() -> Lab:
    data = curve_data()
    n_weights = sum(w.numel() for w in overfit.make_curve_mlp().weights())
    return Lab(
        name="ch03-penalties",
        title="L1 or weight decay: what a penalty does to the weights",
        controls=[
            Choice("kind", "penalty", tuple(PENALTY_KINDS), "none"),
            Slider("lam", "strength λ", 0.01, 30.0, 0.3, log=True, twin=(0.3, 1.0, 10.0)),
        ],
        run=penalty_run,
        views=[lambda: FitView(data),
               lambda: WeightHistogramView(overfit.CURVE_WEIGHTS, total=n_weights),
               lambda: curve_loss_view(data.noise)],
        steps=800, every=5, twin_frames=7, play_seconds=6,
    )


LABS = [penalty_lab]


# ---- L1 against L2 on a duplicated feature -----------------------------------------------------

@dataclass
class Duplicates:
    X: torch.Tensor  # (n, 2): a feature and a near-copy of it (centred)
    y: torch.Tensor  # (n,): 2 × the feature + noise (centred)
    copy_noise: float  # how far the copy is from the original (standard deviation)


def duplicated_features(n: int = 100, copy_noise: float = 0.05, noise: float = 0.5, seed: int = 0) -> Duplicates:
    """y = 2·x + noise, with the input x given twice: as itself and as a copy with a little noise of its own."""
    check_int("n", n, 3, 100_000)
    check_number("copy_noise", copy_noise, 0, 10)
    check_number("noise", noise, 0, 10)
    check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g, dtype=torch.float64)
    X = torch.stack([x, x + copy_noise * torch.randn(n, generator=g, dtype=torch.float64)], 1)  # (n, 2)
    y = 2 * x + noise * torch.randn(n, generator=g, dtype=torch.float64)
    return Duplicates(X - X.mean(0), y - y.mean(), copy_noise)


def duplicate_weights(dup: Duplicates, lam: float = 0.1) -> dict[str, np.ndarray]:
    """The two weights without a penalty (least squares), with an L2 and with an L1 penalty in the loss."""
    check_instance("dup", dup, Duplicates, "a Duplicates (duplicated_features())")
    lam = check_number("lam", lam, 0)
    ols = torch.linalg.lstsq(dup.X, dup.y.unsqueeze(1)).solution.squeeze(1)
    return {"none": ols.numpy(),
            **{kind: fit_penalized_linear(dup.X, dup.y, kind, lam).numpy() for kind in ("L2", "L1")}}


def duplicate_paths(dup: Duplicates, lams) -> dict[str, np.ndarray]:
    """Each penalty's two weights at every strength in lams: {"L2": (K, 2), "L1": (K, 2)}."""
    check_instance("dup", dup, Duplicates, "a Duplicates (duplicated_features())")
    if isinstance(lams, str) or not hasattr(lams, "__len__") or len(lams) == 0:
        fail("lams", "a list of strengths λ (at least one)", lams)
    for lam in lams:
        check_number("lams (each strength λ)", lam, 0)
    lams = torch.as_tensor(np.asarray(lams, dtype=np.float64))
    return {kind: fit_penalized_linear(dup.X, dup.y, kind, lams).numpy() for kind in ("L2", "L1")}


def duplicate_numbers(weights: dict[str, np.ndarray], lam: float) -> dict[str, str]:
    """The prose's numbers about the duplicated feature: each penalty's two weights, and the exact-copy costs."""
    text = {f"dup_{kind.lower()}_{i + 1}": f"{w[i] + 0.0:.2f}" for kind, w in weights.items() for i in range(2)}
    total = float(weights["L2"].sum())  # the weight to be shared, about 2
    text.update(dup_lam_text=f"{lam:g}", dup_total=f"{total:.2f}",
                dup_l2_one=f"{lam / 2 * total ** 2:.3f}", dup_l2_split=f"{lam / 2 * 2 * (total / 2) ** 2:.3f}",
                dup_l1_one=f"{lam * total:.3f}", dup_l1_split=f"{lam * 2 * (total / 2):.3f}")
    return text


# ---- the λ valley against early stopping ------------------------------------------------------

def valley_verdict(penalty_val: float, stopped_val: float, tolerance: float = 0.005) -> str:
    """How the best penalty's validation loss compares with stopping the unpenalized run at its best step."""
    if penalty_val < stopped_val - tolerance:
        return "better than"
    if penalty_val > stopped_val + tolerance:
        return "no better than"
    return "about as good as"


def valley_numbers(decay_finals, best_unpenalized, last_unpenalized, decay_at_1) -> dict[str, str]:
    """The prose's numbers after the λ sweep: the valley's floor, the verdict, and what decay did to the weights.

    decay_finals: the weight-decay sweep's final Snapshots; best_unpenalized, last_unpenalized: the
    unpenalized run's best and last Snapshots; decay_at_1: the sweep's Snapshot at λ = 1.
    """
    floor = min(decay_finals, key=lambda s: s.metrics["val_loss"])
    none_w = np.concatenate([last_unpenalized.params[n].ravel() for n in overfit.CURVE_WEIGHTS])
    decay_w = np.concatenate([decay_at_1.params[n].ravel() for n in overfit.CURVE_WEIGHTS])
    return {"valley_floor": f"{floor.metrics['val_loss']:.3f}", "valley_lam": f"{floor.info['lam']:g}",
            "valley_verdict": (verdict := valley_verdict(floor.metrics["val_loss"], best_unpenalized.metrics["val_loss"])),
            "valley_moral": ("here a penalty beats stopping early" if verdict == "better than" else
                             "on a problem this small, early stopping is as good a regularizer as a penalty"),
            "mean_w_none": f"{np.abs(none_w).mean():.3f}", "mean_w_decay": f"{np.abs(decay_w).mean():.3f}",
            "max_w_none": f"{np.abs(none_w).max():.2f}", "max_w_decay": f"{np.abs(decay_w).max():.2f}",
            "frac_larger": f"{(np.abs(decay_w) > np.abs(none_w)).mean():.0%}"}
