"""Chapter 7's code: the cached sweep of every size on every data size, its lab and its figures.

The sweep (7 sizes x 4 data sizes, about 170x in parameters) is trained once per
session and cached here; the lab trains the size and data you pick with exactly
the sweep's recipe, so its curves land on the sweep's when the settings match.
"""
from __future__ import annotations

import math

import numpy as np

from knobs import data, models, scale, stacked, sweep as sweeps
from knobs.figures import (CONTENT_WIDTH, LABEL_SIZE, LEGEND_SIZE, MUTED, PALETTE, PHONE_WIDTH, TICK_SIZE, book_style,
                           inches, style_axes)
from knobs.lab import Choice, Lab
from knobs.lab.views import View
from knobs.runtime import one_thread, static_mode
from knobs.train import Snapshot
from knobs.validate import check_bool, check_choice, check_instance, check_number

# The recipe every model of the chapter is trained with (the sweep, the lab, the shape comparison).
STEPS = 200  # Adam steps, the learning rate decaying linearly to zero
BATCH = 96  # pairs per step: every model processes STEPS x BATCH = 19,200 pairs, whatever its data size
LR = 0.01
RECORD_EVERY = 5  # the sweep records (and checks validation loss) this often: early stopping's checkpoints
VAL_SENTENCES = 250  # the last sentences of farm_more.txt: the validation set, never trained on
TIE = 0.005  # nats: final validation losses closer than this are a tie (seeds move the star among them)

SHAPES = {hidden: {"embed_dim": d, "hidden": hidden, "layers": 1} for d, hidden in sweeps.SWEEP_SHAPES}
DATA_COLORS = {"1/16 farm": PALETTE[5], "1/4 farm": PALETTE[1], "1 farm": PALETTE[0], "8 farms": PALETTE[2]}

_cache: dict = {}


def scale_data() -> sweeps.ScaleData:
    """The chapter's data (context of 4 words, nested prefixes of farm_more.txt), built once per session."""
    if "data" not in _cache:
        _cache["data"] = sweeps.make_scale_data(context=4, val_sentences=VAL_SENTENCES)
    return _cache["data"]


def training_tokens() -> tuple[str, ...]:
    """The words of farm_more.txt before its validation sentences: every training pair comes from these."""
    lines = data.read_corpus_text("farm_more").splitlines()
    return data.load_corpus(text=" ".join(lines[:-VAL_SENTENCES])).tokens


def scale_sweep(progress: bool | None = None) -> sweeps.SweepResult:
    """Every sweep size trained on every data size: computed once per session (a few seconds), then cached.

    The progress bar shows in Jupyter; not in the built book, where a bar would be frozen text.
    """
    if progress is not None:
        check_bool("progress", progress)
    if "sweep" not in _cache:
        _cache["sweep"] = sweeps.capacity_sweep(scale_data(), sweeps.SWEEP_SHAPES, steps=STEPS, lr=LR,
                                               batch_size=BATCH, every=RECORD_EVERY, progress=progress)
    return _cache["sweep"]


def entropy_floor() -> float:
    """The best possible loss with 4 words of context, counted on the training words only (never the validation's).

    A count from a finite sample is biased low (scale.entropy_bias_correction says by how much): floor_numbers.
    """
    return scale.conditional_entropy(training_tokens(), scale_data().context)


def floor_numbers() -> dict[str, str]:
    """What chapter 7 says of its floor: the count, its first-order bias, the count on all words for comparison."""
    tokens, context = training_tokens(), scale_data().context
    floor, bias = entropy_floor(), scale.entropy_bias_correction(tokens, context)
    everything = scale.conditional_entropy(data.load_corpus("farm_more").tokens, context)
    return {"floor_text": f"{floor:.2f}", "floor_exact": f"{floor:.3f}", "floor_bias": f"{bias:.3f}",
            "floor_corrected": f"{floor + bias:.3f}", "floor_all_words": f"{everything:.3f}",
            "n_train_words": f"{len(tokens):,}",
            "n_contexts": f"{len({tuple(tokens[i:i + context]) for i in range(len(tokens) - context)}):,}"}


def sample_entropies(d: sweeps.ScaleData | None = None) -> dict[str, float]:
    """Each training prefix's own counted conditional entropy: what memorizing exactly that sample scores."""
    d = scale_data() if d is None else d
    tokens = training_tokens()
    return {size: scale.conditional_entropy(tokens[:n + d.context], d.context) for size, n in d.sizes.items()}


def early_stopping(sweep: sweeps.SweepResult, size: str) -> dict[str, np.ndarray]:
    """Per shape on data `size`: the lowest validation loss over the recorded steps, and the step it came at."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    k = sweep.size_index(size)
    at = sweep.val[:, k].argmin(axis=1)
    return {"val": sweep.val[:, k].min(axis=1), "step": sweep.steps[at]}


def overfit_numbers(sweep: sweeps.SweepResult, size: str = "1/16 farm") -> dict[str, str]:
    """What the prose says of the scarce-data runs: trained to the end, and stopped at their best checkpoint."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    k = sweep.size_index(size)
    final = sweep.final_val[:, k]
    stopped = early_stopping(sweep, size)
    es_best = int(np.argmin(stopped["val"]))
    return {
        "highest_or_not": "the highest" if final[-1] == final.max() else "one of the highest",
        "best_small": f"{sweep.n_params[sweep.best(size)]:,}",
        "best_small_val": f"{final.min():.2f}",
        "turn_step": f"{stopped['step'][-1]}",
        "turn_val": f"{stopped['val'][-1]:.2f}",
        "es_best_size": f"{sweep.n_params[es_best]:,}",
        "es_best_val": f"{stopped['val'][es_best]:.2f}",
        "record_every": f"{int(sweep.steps[1] - sweep.steps[0])}",
    }


def plateau(sweep: sweeps.SweepResult, sizes=("1 farm", "8 farms"), tie: float = TIE) -> tuple[int, float]:
    """(first shape index, spread): from that shape up, every final validation loss on each of `sizes` lies within
    `tie` nats of the others -- which of them gets the star is a toss-up."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    check_number("tie", tie, 0, low_open=True)
    ks = [sweep.size_index(s) for s in sizes]
    spread = lambda s: max(np.ptp(sweep.final_val[s:, k]) for k in ks)  # noqa: E731
    first = min(s for s in range(len(sweep.shapes)) if spread(s) <= tie)
    return first, float(spread(first))


def compared_shapes(budget_shape: int = 32) -> list[dict]:
    """Chapter 7's five shapes with (nearly) the parameter count of the sweep's `budget_shape` model, that one first."""
    d = scale_data()
    V, c = len(d.vocab), d.context
    budget = scale.lm_parameter_count(V, c, **SHAPES[budget_shape])
    shapes = [SHAPES[budget_shape]]
    for embed_dim, layers in ((2, 1), (32, 1), (0, 1), (16, 4)):
        shapes.append({"embed_dim": embed_dim, "layers": layers,
                       "hidden": scale.width_for_budget(budget, V, c, embed_dim, layers)})
    return shapes


def shape_comparison(budget_shape: int = 32, progress: bool | None = None) -> sweeps.SweepResult:
    """Five shapes with (nearly) the same parameter count, trained on 8 farms with the sweep's recipe."""
    check_choice("budget_shape", budget_shape, tuple(SHAPES))
    if progress is not None:
        check_bool("progress", progress)
    key = ("shapes", budget_shape)
    if key not in _cache:
        d = scale_data()
        _cache[key] = sweeps.capacity_sweep(d, compared_shapes(budget_shape), {"8 farms": d.sizes["8 farms"]},
                                           steps=STEPS, lr=LR, batch_size=BATCH, every=RECORD_EVERY,
                                           progress=progress)
    return _cache[key]


def shape_numbers(budget_shape: int = 32) -> dict[str, str]:
    """What chapter 7's prose says of the compared shapes before it trains them: the base shape, how equal the counts are."""
    d = scale_data()
    shapes = compared_shapes(budget_shape)
    counts = np.array([scale.lm_parameter_count(len(d.vocab), d.context, **s) for s in shapes])
    return {"base_shape": sweeps.shape_label(shapes[0]), "shape_tolerance": f"{np.abs(counts / counts[0] - 1).max():.1%}"}


# ---- the lab -------------------------------------------------------------------------------

def chosen_run(values, steps, every):
    """Train the chosen size on the chosen data with the sweep's recipe, one snapshot every `every` steps.

    While the book is built (static twin), the same run is replayed from the sweep instead of trained
    again: it is the same run (the tests check that the live one lands on the sweep's numbers), and
    replaying keeps the twin's 20 settings from costing 20 more training runs.
    """
    d, sweep = scale_data(), scale_sweep(progress=False)
    shape = SHAPES[values["hidden"]]
    s, k = sweep.shapes.index(shape), sweep.size_index(values["data"])
    info = {"data": values["data"], "n_params": int(sweep.n_params[s])}
    if static_mode() and steps == sweep.steps[-1]:
        for t, step in enumerate(sweep.steps):
            yield Snapshot(int(step), {}, {"train_loss": float(sweep.train[s, k, t]),
                                           "val_loss": float(sweep.val[s, k, t])}, dict(info))
        return
    model = scale.make_lm(len(d.vocab), seed=0, context=d.context, **shape)
    stack = stacked.StackedLM([model])
    run = stacked.train_stacked(stack, d.X, d.y, [d.sizes[values["data"]]], d.X_val, d.y_val, steps=steps, lr=LR,
                              batch_size=BATCH, every=every)
    with one_thread():  # for the whole run (switching per frame would cost more than a frame)
        for step, train_loss, val_loss in run:
            yield Snapshot(step, {}, {"train_loss": float(train_loss[0]), "val_loss": float(val_loss[0])},
                           dict(info))


class SweepCurvesView(View):
    """Validation loss against step: the sweep's runs on this data in grey, the chosen run in colour."""

    title = "learning curves (grey: every size)"

    def setup(self, ax, total_steps):
        self.ax, self.sweep, self.drawn = ax, scale_sweep(progress=False), False
        style_axes(ax, self.title)
        ax.set_xlim(0, total_steps)
        ax.set_yscale("log")
        ax.set_ylim(0.25, 3.6)
        ax.set_yticks([0.3, 0.5, 0.7, 1, 2, 3], ["0.3", "0.5", "0.7", "1", "2", "3"])
        ax.minorticks_off()
        ax.set_xlabel("step", fontsize=LABEL_SIZE)
        ax.set_ylabel("loss (nats per word)", fontsize=LABEL_SIZE)
        self.val_line = self._keep(ax.plot([], [], color=PALETTE[0], lw=2, label="validation (chosen)")[0])
        self.train_line = self._keep(ax.plot([], [], color=PALETTE[0], lw=1.2, ls="--", label="training (chosen)")[0])
        ax.legend(fontsize=LEGEND_SIZE, loc="upper right")

    def update(self, snap, history):
        if not self.drawn:  # the sweep's curves for this data size: drawn once, part of the background
            k = self.sweep.size_index(snap.info["data"])
            color = DATA_COLORS.get(snap.info["data"], PALETTE[7])
            for s in range(len(self.sweep.shapes)):
                self.ax.plot(self.sweep.steps, self.sweep.val[s, k], color="#999999", lw=0.8, zorder=1)
            for line in (self.val_line, self.train_line):
                line.set_color(color)
            self.ax.legend(fontsize=LEGEND_SIZE, loc="upper right")  # again, so its swatches take the new colour
            self.drawn = True
        self.val_line.set_data(history.steps, history.metrics["val_loss"])
        self.train_line.set_data(history.steps[1:], history.metrics["train_loss"][1:])
        return len(history.steps) == 1

    def describe(self, snap):
        k = self.sweep.size_index(snap.info["data"])
        best = int(np.argmin(self.sweep.final_val[:, k]))
        return (f"Learning curves on {snap.info['data']} of data: the chosen model ({snap.info['n_params']:,} "
                f"parameters) has validation loss {snap.metrics['val_loss']:.3f} and training loss "
                f"{snap.metrics['train_loss']:.3f} at step {snap.step}. Among the sweep's sizes, the lowest final "
                f"validation loss on this data is {self.sweep.final_val[best, k]:.3f}, "
                f"with {self.sweep.n_params[best]:,} parameters.")


class CapacityView(View):
    """Final loss against parameter count (log-log) for the chosen data size; the chosen model as a dot."""

    title = "loss after training vs parameters"

    def setup(self, ax, total_steps):
        self.ax, self.sweep, self.drawn = ax, scale_sweep(progress=False), False
        style_axes(ax, self.title)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(self.sweep.n_params.min() / 1.6, self.sweep.n_params.max() * 1.6)
        ax.set_ylim(0.25, 3.6)
        ax.set_yticks([0.3, 0.5, 0.7, 1, 2, 3], ["0.3", "0.5", "0.7", "1", "2", "3"])
        ax.minorticks_off()
        ax.set_xlabel("parameters", fontsize=LABEL_SIZE)
        floor = entropy_floor()
        ax.axhline(floor, color="#555555", lw=0.8, ls=":")
        ax.annotate(f"best possible ≈ {floor:.2f}", (ax.get_xlim()[0], floor), fontsize=TICK_SIZE, color=MUTED,
                    xytext=(3, -4), textcoords="offset points", va="top")
        self.val_dot = self._keep(ax.plot([], [], "o", ms=9, color=PALETTE[0], mec="black", zorder=5)[0])
        self.train_dot = self._keep(ax.plot([], [], "o", ms=7, mfc="white", color=PALETTE[0], zorder=5)[0])

    def update(self, snap, history):
        if not self.drawn:
            k = self.sweep.size_index(snap.info["data"])
            color = DATA_COLORS.get(snap.info["data"], PALETTE[7])
            for other in range(len(self.sweep.sizes)):
                if other != k:
                    self.ax.plot(self.sweep.n_params, self.sweep.final_val[:, other], color="#cccccc", lw=0.8)
            self.ax.plot(self.sweep.n_params, self.sweep.final_val[:, k], "-o", color=color, ms=3, lw=1.5,
                         label=f"validation, {snap.info['data']}")
            self.ax.plot(self.sweep.n_params, self.sweep.final_train[:, k], "--", color=color, lw=1,
                         label="training")
            self.ax.legend(fontsize=LEGEND_SIZE, loc="upper right")
            self.val_dot.set_color(color)
            self.train_dot.set_color(color)
            self.val_dot.set_markeredgecolor("black")
            self.drawn = True
        n = snap.info["n_params"]
        self.val_dot.set_data([n], [snap.metrics["val_loss"]])
        self.train_dot.set_data([n], [snap.metrics["train_loss"]])
        return len(history.steps) == 1

    def describe(self, snap):
        k = self.sweep.size_index(snap.info["data"])
        vals = self.sweep.final_val[:, k]
        return (f"Loss against parameters on log-log axes for {snap.info['data']}: the sweep's final validation "
                f"losses run from {vals[0]:.2f} ({self.sweep.n_params[0]:,} parameters) to {vals[-1]:.2f} "
                f"({self.sweep.n_params[-1]:,}), lowest {vals.min():.2f}; the chosen model's dot sits at "
                f"{snap.metrics['val_loss']:.2f}.")


def scale_lab() -> Lab:
    return Lab(
        name="ch07-scale",
        title="Pick a size, pick the data",
        controls=[
            Choice("hidden", "hidden width", tuple(SHAPES), 32, twin=(4, 16, 32, 64, 256)),
            Choice("data", "training data", tuple(scale_data().sizes), "1 farm"),
        ],
        run=chosen_run,
        views=[SweepCurvesView, CapacityView],
        steps=STEPS, every=4, twin_frames=3,
    )


LABS = [scale_lab]


# ---- the chapter's figures -------------------------------------------------------------------

def plot_capacity(sweep: sweeps.SweepResult, floor: float):
    """Validation and training loss after training against parameters, one line per data size (log-log)."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    check_number("floor", floor)
    import matplotlib.pyplot as plt

    with book_style():
        fig, axes = plt.subplots(1, 2, figsize=(inches(CONTENT_WIDTH - 8), 3.9), sharey=True)
    for k, size in enumerate(sweep.sizes):
        color = DATA_COLORS.get(size, PALETTE[7])
        best = sweep.best(size)
        axes[0].plot(sweep.n_params, sweep.final_val[:, k], "-o", ms=3.5, color=color, label=f"{size} "
                     f"({sweep.sizes[size]:,} pairs)")
        # a data size whose best size an earlier one already starred gets a smaller star on top, so both show
        star = 14 * 0.55 ** sum(sweep.best(other) == best for other in list(sweep.sizes)[:k])
        axes[0].plot(sweep.n_params[best], sweep.final_val[best, k], "*", ms=star, color=color, mec="black",
                     zorder=4 + k)
        axes[1].plot(sweep.n_params, sweep.final_train[:, k], "-o", ms=3.5, color=color)
    for ax, title in zip(axes, ("validation loss (new sentences)", "training loss (seen sentences)")):
        style_axes(ax, title, xlabel="parameters")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.axhline(floor, color=MUTED, lw=0.8, ls=":")
        ax.set_yticks([0.3, 0.5, 0.7, 1, 1.5, 2], ["0.3", "0.5", "0.7", "1", "1.5", "2"])
        ax.minorticks_off()
    axes[0].set_ylabel("loss after training (nats per word)", fontsize=LABEL_SIZE)
    axes[0].legend(fontsize=LEGEND_SIZE, title="training data", title_fontsize=LEGEND_SIZE, loc="lower left")
    axes[1].tick_params(labelleft=True)  # sharey hides them; stacked on a phone this panel needs its own numbers
    # the curves cross the floor line along its whole length: name it in a legend in the empty lower-left corner
    axes[1].plot([], [], color=MUTED, lw=0.8, ls=":", label=f"best possible ≈ {floor:.2f}")
    axes[1].legend(fontsize=LEGEND_SIZE, loc="lower left")
    return fig


def plot_shapes(result: sweeps.SweepResult, floor: float):
    """Final validation loss of same-sized models of different shapes, as horizontal bars."""
    check_instance("result", result, sweeps.SweepResult, "a SweepResult (shape_comparison())")
    check_number("floor", floor)
    import matplotlib.pyplot as plt

    with book_style():
        fig, ax = plt.subplots(figsize=(inches(PHONE_WIDTH - 8), 3.3))
    order = np.argsort(result.final_val[:, 0])
    labels = [f"{result.labels[i]}\n({result.n_params[i]:,} parameters)" for i in order]
    ax.barh(range(len(order)), result.final_val[order, 0], color=PALETTE[0])
    style_axes(ax, xlabel=f"validation loss on {list(result.sizes)[0]}\n(lower is better)")
    ax.set_yticks(range(len(order)), labels, fontsize=TICK_SIZE)
    ax.invert_yaxis()
    ax.axvline(floor, color=MUTED, lw=0.8, ls=":")
    ax.set_xlim(floor - 0.1, result.final_val.max() + 0.09)
    for y, i in enumerate(order):
        ax.text(result.final_val[i, 0] + 0.005, y, f"{result.final_val[i, 0]:.3f}", va="center", fontsize=TICK_SIZE)
    return fig


def plot_compute(sweep: sweeps.SweepResult, size: str = "8 farms"):
    """Validation loss against training compute (6 N x pairs processed so far), one curve per size."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    import matplotlib.pyplot as plt

    k = sweep.size_index(size)
    with book_style():
        fig, ax = plt.subplots(figsize=(inches(PHONE_WIDTH - 8), 4.4))
    colors = plt.get_cmap("viridis")(np.linspace(0.9, 0.0, len(sweep.shapes)))  # small: yellow-green, big: purple
    for s in range(len(sweep.shapes)):
        flops = 6.0 * sweep.n_params[s] * sweep.steps[1:] * sweep.batch_size
        ax.plot(flops, sweep.val[s, k, 1:], color=colors[s], lw=1.8, label=f"{sweep.n_params[s]:,}")
    style_axes(ax, f"{size}: the best size for a budget",
               xlabel="training compute so far (FLOPs):\n6 × parameters × pairs processed", ylabel="validation loss")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_yticks([0.7, 1, 1.5, 2, 3], ["0.7", "1", "1.5", "2", "3"])
    ax.minorticks_off()
    ax.legend(title="parameters", fontsize=LEGEND_SIZE, title_fontsize=LEGEND_SIZE, ncol=2, columnspacing=0.8,
              handlelength=1.2)
    return fig


# ---- the numbers the prose quotes (one function per section) ------------------------------------

def data_use_numbers(sweep: sweeps.SweepResult) -> dict[str, str]:
    """Best sizes against data: unique training pairs per parameter, and pairs processed per parameter
    (Chinchilla's count: an 8-farm run processes fewer pairs than it has)."""
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    best = {s: sweep.n_params[sweep.best(s)] for s in sweep.sizes}
    unique = [sweep.sizes[s] / n for s, n in best.items()]
    processed = [sweep.tokens_seen() / n for n in best.values()]
    return {"ratio_range": f"{min(unique):.1f} to {max(unique):.1f}",
            "processed_range": f"{min(processed):.1f} to {max(processed):.1f}",
            "pairs_most": f"{max(sweep.sizes.values()):,}"}


def chinchilla_numbers() -> dict[str, str]:
    """Hoffmann et al.'s Approach-3 law taken literally at the Gopher/Chinchilla budget, and what 6ND says of both."""
    N, D = scale.chinchilla_optimum(scale.GOPHER_CHINCHILLA_FLOPS)
    reals = {m.name: m for m in scale.real_models()}
    gopher, chinchilla = (scale.training_flops(reals[n].parameters, reals[n].tokens) for n in ("Gopher", "Chinchilla"))
    return {"opt_N": f"{N / 1e9:.0f} billion", "opt_D": f"{D / 1e12:.1f} trillion", "opt_ratio": f"{D / N:.0f}",
            "opt_loss": f"{scale.chinchilla_loss(N, D):.3f}",
            "sixnd_gap": f"{abs(chinchilla / gopher - 1):.0%}"}


def cost_numbers() -> dict[str, str]:
    """GPT-3's attention FLOPs (left out of 6ND) and key-value cache (left out of 'the weights alone')."""
    c = scale.GPT3_CONFIG
    N = sum(models.gpt2_parameter_formula(c).values())
    attention = scale.attention_flops_per_token(c)  # at the full context
    per_token, per_sequence = scale.kv_cache_bytes(c, 1), scale.kv_cache_bytes(c, c.n_positions)
    weights = models.memory_bytes(N, "bf16")
    return {"gpt3_ctx": f"{c.n_positions:,}", "attn_share": f"{attention / (2 * N):.1%}",
            "ctx_equal": f"{round(N / (c.n_layer * c.n_embd), -3):,.0f}",
            "kv_token": f"{per_token / 1e6:.1f} MB", "kv_sequence": f"{per_sequence / 1e9:.1f} GB",
            "kv_batch_equal": f"{math.ceil(weights / per_sequence)}", "gpt3_bf16": f"{weights / 1e9:,.0f} GB"}


def years_text(years: float) -> str:
    """'about 1.4 million' or 'about 970,000': a timing-based estimate, rounded to two significant figures."""
    check_number("years", years, 0, low_open=True)
    rounded = float(f"{years:.2g}")
    return f"about {rounded / 1e6:g} million" if rounded >= 1e6 else f"about {rounded:,.0f}"


def compute_frontier(sweep: sweeps.SweepResult, size: str = "8 farms") -> list[tuple[float, int]]:
    """(budget, parameters) where the best size for a compute budget first grows past every smaller best size.

    For each budget (6 N x pairs processed so far, on a log grid), the best size is the one whose learning curve
    reached the lowest validation loss within that budget.
    """
    check_instance("sweep", sweep, sweeps.SweepResult, "a SweepResult (scale_sweep())")
    k = sweep.size_index(size)
    flops = 6.0 * sweep.n_params[:, None] * sweep.steps[None, 1:] * sweep.batch_size  # (S, T-1)
    val = sweep.val[:, k, 1:]
    frontier, largest = [], -1
    for budget in np.logspace(np.log10(flops.min()), np.log10(flops.max()), 200):
        reached = np.where(flops <= budget, val, np.inf).min(axis=1)  # (S,) best loss each size reached in budget
        best = int(np.argmin(reached))
        if best > largest:
            frontier.append((float(budget), int(sweep.n_params[best])))
            largest = best
    return frontier


def frontier_numbers(sweep: sweeps.SweepResult, size: str = "8 farms") -> dict[str, str]:
    """The budgets over which the best size grows (prose: '10⁶–10⁹ FLOPs here')."""
    frontier = compute_frontier(sweep, size)
    grows = frontier[1:]  # the budgets at which a larger size takes over
    return {"frontier_range": f"{scale.order_of_magnitude(grows[0][0])}–{scale.order_of_magnitude(grows[-1][0])}",
            "frontier_sizes": ", ".join(f"{n:,}" for _, n in frontier)}
