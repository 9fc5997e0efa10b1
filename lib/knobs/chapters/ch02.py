"""Chapter 2's code: gradient descent on a 2-D loss surface, and symmetry breaking in the tiny LM.

Each lab is a declaration (controls + run + views). The views below are
chapter-specific: they draw the contour map once as background and move only
the path, the point and the curves each frame.
"""
from __future__ import annotations

import numpy as np
import torch

from knobs import data, descent, models, train
from knobs.figures import LABEL_SIZE, LEGEND_SIZE, PALETTE, style_axes
from knobs.initialization import count_distinct_units, set_symmetric_init
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import CurvesView, HeatmapView, LossView, View
from knobs.train import Snapshot
from knobs.validate import check_axes, check_instance, check_int, check_number

PATH_COLOR = PALETTE[5]


# ---- the 2-D loss surface ------------------------------------------------------------
def draw_surface(ax, lines: int = 7) -> None:
    """The loss over the box as shading (darker = lower) and a few contour lines; ★ global, ○ local minimum.

    Smooth shading rather than many coloured contour lines: it compresses to a
    third of the bytes, which matters for the static twin's precomputed frames.
    """
    check_axes("ax", ax)
    check_int("lines", lines, 1, 50)
    grid = np.linspace(*descent.BOX, 160)
    T1, T2 = np.meshgrid(grid, grid)
    Z = descent.surface(T1, T2) - descent.surface(*descent.minima()[0])  # loss above the global minimum
    ax.imshow(np.log10(Z + 0.02), extent=(*descent.BOX, *descent.BOX), origin="lower", cmap="cividis", alpha=0.6,
              interpolation="bilinear", aspect="auto")
    ax.contour(T1, T2, Z, levels=np.geomspace(0.05, 30, lines), colors="white", linewidths=0.6)
    best, local = descent.minima()
    ax.plot(*best, "*", color="black", ms=9, zorder=3)
    ax.plot(*local, "o", mfc="white", mec="black", ms=5, zorder=3)
    ax.set_xlim(*descent.BOX), ax.set_ylim(*descent.BOX)
    style_axes(ax)
    ax.set_xlabel("θ₁", fontsize=LABEL_SIZE, labelpad=1), ax.set_ylabel("θ₂", fontsize=LABEL_SIZE, labelpad=0)


def finite_path(values, limit: float = 50.0) -> np.ndarray:
    """Coordinates safe to draw: a blown-up value is clipped far off the map (the line leaves it); inf is a gap."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), np.clip(values, -limit, limit), np.nan)


class ContourView(View):
    title = "the path on the loss surface"

    def setup(self, ax, total_steps):
        draw_surface(ax)
        style_axes(ax, "the path (★ global, ○ local minimum)")
        self.path = self._keep(ax.plot([], [], "-", color=PATH_COLOR, lw=1.3)[0])
        self.point = self._keep(ax.plot([], [], "o", color=PATH_COLOR, mec="black", ms=6)[0])
        # drawn after (and above) the current point, open and larger: visible on the first frame too
        self.start = self._keep(ax.plot([], [], "s", mfc="none", mec="black", mew=1.2, ms=9, zorder=5)[0])

    def update(self, snap, history):
        t1, t2 = finite_path(history.metrics["theta1"]), finite_path(history.metrics["theta2"])
        self.path.set_data(t1, t2)
        self.start.set_data(t1[:1], t2[:1])
        self.point.set_data(t1[-1:], t2[-1:])
        return False

    def describe(self, snap):
        best, local = descent.minima()
        theta = np.array([snap.metrics["theta1"], snap.metrics["theta2"]])
        if not np.all(np.isfinite(theta)) or np.abs(theta).max() > 1e3:
            where = "far off the map: the parameters blew up"
        else:
            near = min((("the global minimum", best), ("the local minimum", local)),
                       key=lambda item: np.linalg.norm(theta - item[1]))
            where = f"at θ = ({theta[0]:.2f}, {theta[1]:.2f}), nearest {near[0]}"
        return f"Contour map of the loss with the path taken so far; the parameters are {where}."


class ParametersView(View):
    title = "the two parameters over the steps"

    def setup(self, ax, total_steps):
        best = descent.minima()[0]
        style_axes(ax, "parameters (dotted: global minimum)", xlabel="step")
        ax.set_xlim(0, total_steps), ax.set_ylim(-2.5, 2.5)
        self.lines = [self._keep(ax.plot([], [], color=PALETTE[i], lw=1.4, label=name)[0])
                      for i, name in enumerate(("θ₁", "θ₂"))]
        for i, value in enumerate(best):
            ax.axhline(value, color=PALETTE[i], ls=":", lw=1)
        ax.legend(fontsize=LEGEND_SIZE, loc="upper right")

    def update(self, snap, history):
        for line, name in zip(self.lines, ("theta1", "theta2")):
            line.set_data(history.steps, finite_path(history.metrics[name]))
        return False

    def describe(self, snap):
        m = snap.metrics
        return f"Parameter values at step {snap.step}: θ₁ = {m['theta1']:.3g}, θ₂ = {m['theta2']:.3g}."


def descent_run(values, steps, every):
    """Snapshots of one descent: the two parameters and the loss, every `every` steps."""
    optimizer = descent.make_optimizer(values["optimizer"], values["lr"], values["momentum"])
    for step, theta, loss in descent.descend((values["x0"], values["y0"]), optimizer, steps):
        if step % every == 0 or step == steps or not np.isfinite(loss):
            metrics = {"train_loss": loss, "theta1": float(theta[0]), "theta2": float(theta[1])}
            yield Snapshot(step, {"theta": np.array(theta, dtype=float)}, metrics)


def descent_lab() -> Lab:
    return Lab(
        name="ch02-descent",
        title="Gradient descent on a two-parameter loss surface",
        controls=[
            Slider("lr", "learning rate", 1e-3, 1.0, 0.03, log=True, twin=(0.003, 0.03, 0.3)),
            Choice("optimizer", "optimizer", descent.OPTIMIZERS, "sgd"),
            Slider("momentum", "momentum (β₁ of Adam)", 0.0, 0.99, 0.9, twin=(0.9,)),
            Slider("x0", "start θ₁", -2.0, 2.0, 1.9, twin=(1.9,)),
            Slider("y0", "start θ₂", -2.0, 2.0, -1.2, twin=(-1.2,)),
        ],
        run=descent_run,
        views=[ContourView, ParametersView],
        steps=150, every=2, twin_frames=11,  # the path is the story: 11 frames
    )


# ---- symmetry breaking in the tiny LM ------------------------------------------------
INITS = {"random (PyTorch default)": "random", "all zero": "zero", "all equal (0.3)": "equal"}


def distinct_units_view(hidden: int = 32) -> CurvesView:
    """How many hidden units still differ from each other, against step."""
    return CurvesView(["distinct_units"], title=f"distinct hidden units (of {hidden})", ylim=(0, hidden * 1.1),
                      yticks=[1, 8, 16, 24, 32][: 1 + hidden // 8], legend=None, colors=[PALETTE[3]], lw=2.5,
                      drawstyle="steps-post",
                      summary=f"{hidden} hidden units, {{distinct_units:.0f}} distinct.")


def symmetry_run(values, steps, every):
    """Train the tiny LM from a random, all-zero or all-equal start (plus optional noise), counting distinct units."""
    check_instance("values", values, dict, "a dict of the lab's settings, e.g. {'init': 'all zero', 'noise': 0.0}")
    try:
        values = symmetry_lab().validated(values)  # the defaults filled in; each setting checked by its control
    except ValueError as error:
        raise ValueError(f"values: {error}") from None
    vocab, X, y, X_val, y_val = data.farm_split()
    model = models.make_tiny_lm(len(vocab), seed=0)
    set_symmetric_init(model, INITS[values["init"]], noise=values["noise"])
    run = train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, every=every, lr=0.03,
                         optimizer="adam", seed=0)
    for snap in run:
        snap.metrics["distinct_units"] = float(count_distinct_units(snap.params["hidden.weight"],
                                                                    snap.params["hidden.bias"]))
        yield snap


def symmetry_lab() -> Lab:
    return Lab(
        name="ch02-symmetry",
        title="Symmetry breaking: how the hidden layer starts",
        controls=[
            Choice("init", "hidden and output layers start", tuple(INITS), "all equal (0.3)"),
            Slider("noise", "added random noise (std)", 0.0, 0.1, 0.0, twin=(0.0, 0.001)),
        ],
        run=symmetry_run,
        views=[lambda: HeatmapView("hidden.weight", "hidden.weight (one row per hidden unit)", limit=1.5),
               distinct_units_view,
               lambda: LossView(labels={"train_loss": "batch loss"})],  # train_lm logs one batch's loss
        steps=300, every=5, twin_frames=7,
    )


def incoming_only_equal_run(steps: int = 150) -> dict[str, float]:
    """Equal *incoming* weights (hidden layer all 0.3, bias 0) but the output layer left random: still symmetric?

    Unit j's gradient is the output error weighted by column j of out.weight
    (dh[:, j] = dz @ W2[:, j]), so different
    outgoing weights tell the units apart from the first step (the lab's
    'all equal' start fills both layers).
    """
    check_int("steps", steps, 1, 10_000)
    vocab, X, y, X_val, y_val = data.farm_split()
    model = models.make_tiny_lm(len(vocab), seed=0)
    with torch.no_grad():
        model.hidden.weight.fill_(0.3)  # the lab's 'all equal' value
        model.hidden.bias.zero_()
    last = train.run_to_end(train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, every=steps,
                                           lr=0.03, optimizer="adam", seed=0))
    return {"distinct_units": float(count_distinct_units(last.params["hidden.weight"], last.params["hidden.bias"])),
            "val_loss": last.metrics["val_loss"], "hidden": float(model.config.hidden)}


# ---- exercise 4's numbers: the three optimizers from (-1.9, 1.5) -----------------------------
EXERCISE4_START, EXERCISE4_LR = (-1.9, 1.5), 0.03


def steps_to_minimum(name: str, start=EXERCISE4_START, lr: float = EXERCISE4_LR, tol: float = 1e-3,
                     max_steps: int = 5000) -> tuple[int | None, list[np.ndarray]]:
    """Steps until the loss is within `tol` of the global minimum's (None if never), and the path taken."""
    floor = descent.loss(descent.minima()[0])
    path = []
    for step, theta, loss in descent.descend(start, descent.make_optimizer(name, lr), max_steps):
        path.append(np.array(theta, dtype=float))
        if loss - floor < tol:
            return step, path
    return None, path


def exercise4_numbers() -> dict[str, str]:
    """The solution's numbers: steps each optimizer needs, and where Adam meets the valley floor (step 100)."""
    steps = {name: steps_to_minimum(name) for name in descent.OPTIMIZERS}
    adam_path = steps["adam"][1]
    return {"ex4_sgd_steps": str(steps["sgd"][0]), "ex4_momentum_steps": str(steps["momentum"][0]),
            "ex4_adam_steps": str(steps["adam"][0]), "ex4_adam_theta1_100": f"{adam_path[100][0]:.2f}",
            "ex4_best_theta1": f"{descent.minima()[0][0]:.2f}"}


# ---- the lab's learning rate 0.3: Adam does not diverge, but where does it end? ------------------------------
def lab_adam_fast_numbers(lr: float = 0.3, steps: int = 150) -> dict[str, str]:
    """Adam (beta1 0.9) at `lr` from the lab's start (1.9, -1.2): where it is after `steps`, which minimum is nearer."""
    check_number("lr", lr, 0, 10, low_open=True)
    check_int("steps", steps, 1, 10_000)
    best, local = descent.minima()
    *_, (_, theta, value) = descent.descend((1.9, -1.2), descent.make_optimizer("adam", lr, 0.9), steps)
    nearer_local = np.linalg.norm(theta - local) < np.linalg.norm(theta - best)
    return {"adam_fast_theta1": f"{theta[0]:.2f}", "adam_fast_theta2": f"{theta[1]:.2f}",
            "adam_fast_gap": f"{value - descent.loss(best):.2f}",
            "adam_fast_where": "local" if nearer_local else "global",
            "local_theta1": f"{local[0]:.2f}", "local_theta2": f"{local[1]:.2f}"}


LABS = [descent_lab, symmetry_lab]
