"""Chapter 6's code, the lab: choose the bits and the scales, see the grid, the error, the loss and the predictions.

Step 0 of a run is post-training quantization of the trained tiny model; the
steps after it are quantization-aware training (the forward pass uses the
quantized weights, the straight-through gradient updates float copies).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from matplotlib.collections import LineCollection

from torch.nn.utils import parametrize

from knobs import data, models, train
from knobs import numformats
from knobs import quantize as Q
from knobs.figures import LEGEND_SIZE, PALETTE, TICK_SIZE, TITLE_SIZE, style_axes
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import LossView, PredictionsView, View
from knobs.validate import (ArgumentTypeError, check_axes, check_choice, check_int, check_number, check_tensor,
                            check_text, fail)

GROUP_SIZE = 8  # weights per group: 2 groups per row of hidden.weight, 4 per row of out.weight
QAT_LR = 0.003  # small: QAT fine-tunes a trained model, it does not train one
BITS = tuple(range(2, 9))
CONTEXT = "the cow"


@torch.no_grad()
def weight_error(params: dict, bits: int, scheme: str, granularity: str) -> float:
    """Relative error of all weight matrices (2+ dimensions) together after quantization."""
    diff = total = 0.0
    for w in (w.detach() for w in params.values() if w.dim() >= 2):
        diff += float(((w - Q.fake_quantize(w, bits, scheme, granularity, GROUP_SIZE)) ** 2).sum())
        total += float((w ** 2).sum())
    return (diff / total) ** 0.5


@lru_cache(maxsize=2)
def error_curves(scheme: str = "symmetric") -> dict[str, list[float]]:
    """Weight error of the trained model at 2..8 bits for each granularity (the lab's reference curves)."""
    params = dict(train.trained_tiny_lm().named_parameters())
    return {g: [weight_error(params, b, scheme, g) for b in BITS] for g in Q.GRANULARITIES}


def quantization_run(values, steps, every):
    bits, granularity, scheme = values["bits"], values["granularity"], values["scheme"]
    vocab, X, y, X_val, y_val = data.farm_split()
    base = train.trained_tiny_lm()
    fp32_loss = train.evaluate(base, X_val, y_val)
    words = data.likely_next_words(CONTEXT)
    reference = models.next_word_probs(base, vocab, CONTEXT, words)
    curves = error_curves(scheme)
    qat = Q.prepare_qat(base, bits, scheme, granularity, GROUP_SIZE)
    floats = {name: p for name, p in qat.named_parameters() if name.endswith(".original")}  # what the optimizer updates
    for snap in train.train_lm(qat, X, y, X_val=X_val, y_val=y_val, steps=steps, lr=QAT_LR, every=every, seed=1):
        with torch.no_grad(), parametrize.cached():  # quantize each weight once for everything below
            quantized = {name: _quantized(qat, name) for name in floats}
            diff = sum(float(((floats[n] - quantized[n]) ** 2).sum()) for n in floats)
            total = sum(float((w ** 2).sum()) for w in floats.values())
            latent = floats["hidden.parametrizations.weight.original"].detach()
            scale, zero_point = Q.compute_qparams(Q.blocks(latent, granularity, GROUP_SIZE), bits, scheme)
            widest = int(scale.argmax())
            snap.params = {"hidden.weight": quantized["hidden.parametrizations.weight.original"].numpy().copy(),
                           "hidden.weight (float)": latent.numpy().copy()}
            snap.metrics["fp32_val_loss"] = fp32_loss
            snap.metrics["weight_error"] = (diff / total) ** 0.5
            snap.info.update(grid=Q.grid_levels(scale[widest], zero_point[widest], bits, scheme).numpy(), curves=curves,
                             bits=bits, granularity=granularity, scheme=scheme, reference={CONTEXT: reference},
                             probs={CONTEXT: models.next_word_probs(qat, vocab, CONTEXT, words)})
        yield snap


def _quantized(model, float_name: str) -> torch.Tensor:
    """The quantized weight a parametrized layer computes with, e.g. 'hidden.parametrizations.weight.original'."""
    module_name, attr = float_name.split(".parametrizations.")[0], float_name.split(".")[-2]
    return getattr(model.get_submodule(module_name), attr)


class GridHistogramView(View):
    """hidden.weight's float values (grey), its quantized values (blue) and the quantization grid (orange lines)."""

    title = "hidden.weight and its grid"

    def setup(self, ax, total_steps):
        self.ax, self.float_stairs = ax, None
        style_axes(ax, self.title, xlabel="weight value", ylabel="weights")

    def update(self, snap, history):
        w, wq = snap.params["hidden.weight (float)"].ravel(), snap.params["hidden.weight"].ravel()
        if self.float_stairs is None:
            span = 1.25 * float(np.abs(w).max())
            self.edges = np.linspace(-span, span, 121)
        counts = np.histogram(np.clip(w, self.edges[0], self.edges[-1]), self.edges)[0]
        qcounts = np.histogram(np.clip(wq, self.edges[0], self.edges[-1]), self.edges)[0]
        grid = snap.info["grid"]
        grid = grid[(grid >= self.edges[0]) & (grid <= self.edges[-1])]
        redraw = False
        if self.float_stairs is None:
            self.top = max(counts.max(), qcounts.max()) * 1.15
            self.ax.set_xlim(self.edges[0], self.edges[-1])
            self.ax.set_ylim(0, self.top)
            self.lines = self._keep(LineCollection([], colors=PALETTE[1], linewidths=0.7, alpha=0.55, label="grid"))
            self.ax.add_collection(self.lines)
            self.float_stairs = self._keep(self.ax.stairs(counts, self.edges, fill=True, color="#bbbbbb", label="float"))
            self.q_stairs = self._keep(self.ax.stairs(qcounts, self.edges, color=PALETTE[0], lw=1.4, label="quantized"))
            self.ax.legend(fontsize=LEGEND_SIZE, loc="upper right")
            redraw = True
        elif max(counts.max(), qcounts.max()) > self.top:
            self.top = max(counts.max(), qcounts.max()) * 1.15
            self.ax.set_ylim(0, self.top)
            redraw = True
        self.float_stairs.set_data(counts)
        self.q_stairs.set_data(qcounts)
        self.lines.set_segments([[(g, 0), (g, self.top)] for g in grid])
        self.lines.set_alpha(min(0.6, 8 / max(len(grid), 1)))  # 256 levels at 8 bits: a light tint, not a wall
        return redraw

    def describe(self, snap):
        wq, grid = snap.params["hidden.weight"], snap.info["grid"]
        step = float(grid[1] - grid[0]) if len(grid) > 1 else 0.0
        where = {"tensor": "the whole tensor", "channel": "the widest row",
                 "group": f"the widest group of {GROUP_SIZE}"}[snap.info["granularity"]]
        return (f"Histogram of hidden.weight: after {snap.info['bits']}-bit quantization its {wq.size} weights take "
                f"{len(np.unique(wq))} distinct values; the grid of {where} has {len(grid)} levels {step:.3f} apart.")


class ErrorBitsView(View):
    """Relative weight error against bits for each granularity (log scale); a dot marks the current run."""

    title = "weight error (all matrices)"
    STYLES = {"tensor": (PALETTE[5], "-"), "channel": (PALETTE[2], "--"), "group": (PALETTE[3], ":")}

    def setup(self, ax, total_steps):
        self.ax, self.dot = ax, None
        style_axes(ax, self.title, xlabel="bits per weight", ylabel="‖W − Ŵ‖ / ‖W‖")
        ax.set_yscale("log")
        ax.set_xlim(BITS[0] - 0.3, BITS[-1] + 0.3)

    def update(self, snap, history):
        if self.dot is None:
            curves = snap.info["curves"]
            for g, errors in curves.items():
                color, style = self.STYLES[g]
                self.ax.plot(BITS, errors, style, color=color, lw=1.3, label=f"per {g}")
            low = min(min(e) for e in curves.values())
            high = max(max(e) for e in curves.values())
            self.ax.set_ylim(low / 2, high * 2)
            self.ax.legend(fontsize=LEGEND_SIZE, loc="upper right")
            self.dot = self._keep(self.ax.plot([], [], "o", color="black", ms=6)[0])
            self.dot.set_data([snap.info["bits"]], [snap.metrics["weight_error"]])
            return True
        self.dot.set_data([snap.info["bits"]], [snap.metrics["weight_error"]])
        return False

    def describe(self, snap):
        bits = snap.info["bits"]
        at = {g: e[BITS.index(bits)] for g, e in snap.info["curves"].items()}
        return (f"Weight error {snap.metrics['weight_error']:.1%} now ({bits} bits, per {snap.info['granularity']}); "
                f"right after quantizing, at {bits} bits: " + ", ".join(f"per {g} {e:.1%}" for g, e in at.items()) + ".")


class ReferencePredictionsView(PredictionsView):
    """Next-word probabilities of the quantized model (bars) and of the float model (black ticks)."""

    def setup(self, ax, total_steps):
        super().setup(ax, total_steps)
        ax.set_title(f"after “{self.context}” (| = float model)", fontsize=TITLE_SIZE)

    def update(self, snap, history):
        first = not hasattr(self, "ticks")
        if first:  # the float model's answer: drawn after the bars every frame, so a longer bar never hides it
            ref = snap.info["reference"][self.context]
            self.ticks = self._keep(*self.ax.plot([ref[w] for w in self.words], range(len(self.words)), "|",
                                                  color="black", ms=16, mew=2.5))
        super().update(snap, history)
        return first

    def describe(self, snap):
        ref = snap.info["reference"][self.context]
        top = max(ref, key=ref.get)
        return super().describe(snap) + f" The float model gives {top} {ref[top]:.0%}."


def quantization_lab() -> Lab:
    return Lab(
        name="ch06-quantization",
        title="Fewer bits per weight: quantize the tiny model (step 0), then train it quantized",
        controls=[
            Slider("bits", "bits per weight", 2, 8, 2, integer=True, twin=(2, 3, 4, 8)),
            Choice("granularity", "one scale per", ("tensor", "channel", "group"), "tensor"),
            Choice("scheme", "scheme", ("symmetric", "affine"), "symmetric", twin=("symmetric",)),
        ],
        run=quantization_run,
        views=[lambda: GridHistogramView(),
               lambda: ErrorBitsView(),
               lambda: LossView(("val_loss", "fp32_val_loss"), title="validation loss", ylabel="cross-entropy",
                                legend="lower right"),  # the curves sit high: the lower right is free
               lambda: ReferencePredictionsView(CONTEXT, data.likely_next_words(CONTEXT))],
        # every=2: a live frame trains two QAT steps (the 16.7 ms frame budget); twin frames every 18 steps
        steps=108, every=2, twin_frames=7,
    )


LABS = [quantization_lab]


# ---- the chapter's static figures (drawn once, not per frame) ----------------------------------------------------------
FIELD_COLORS = {"sign": PALETTE[5], "exponent": PALETTE[0], "mantissa": PALETTE[2], "two's complement": PALETTE[1]}


def draw_formats(ax, names=numformats.FORMATS) -> None:
    """One row of boxes per number format: sign, exponent and mantissa bits (integers: one two's-complement field).

    Each box holds its number of bits; the colours are named in a legend above (a box of 1 bit is too narrow
    for its name at the book's text size).
    """
    shown = {}
    check_axes("ax", ax)
    if not isinstance(names, (tuple, list)):
        fail("names", "a tuple of number formats", names, ArgumentTypeError)
    for name in names:
        check_choice("names (each format)", name, numformats.FORMATS)
    for row, name in enumerate(names):
        fmt = numformats.number_format(name)
        fields = ([("sign", 1), ("exponent", fmt.exponent_bits), ("mantissa", fmt.mantissa_bits)]
                  if fmt.kind == "float" else [("two's complement", fmt.bits)])  # top bit weighs -2^(b-1)
        start = 0
        for field, width in fields:
            shown[field] = ax.barh(row, width, left=start, height=0.72, color=FIELD_COLORS[field], edgecolor="white",
                                   lw=0.8, label=field)
            if width >= 2:
                ax.text(start + width / 2, row, str(width), ha="center", va="center", fontsize=TICK_SIZE,
                        color="white", fontweight="bold")
            start += width
        ax.text(start + 0.5, row, f"{fmt.bits} bits", va="center", fontsize=TICK_SIZE)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 39)
    ax.set_xticks([0, 8, 16, 24, 32])
    ax.set_xlabel("bits (most significant first)")
    ax.legend(shown.values(), shown.keys(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False,
              fontsize=LEGEND_SIZE, handlelength=1.0, columnspacing=1.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def draw_grid_histogram(ax, w, levels, title: str, span: float | None = None, bins: int = 80) -> None:
    """A weight histogram with the quantization grid's levels as vertical lines."""
    check_axes("ax", ax)
    _numbers("w", w), _numbers("levels", levels)
    if span is not None:
        check_number("span", span, 0, low_open=True)
    check_int("bins", bins, 1, 10_000)
    w = np.asarray(w).ravel()
    span = span or 1.1 * float(np.abs(w).max())
    ax.hist(np.clip(w, -span, span), bins=np.linspace(-span, span, bins + 1), color="#999999")
    for level in np.asarray(levels):
        if -span <= level <= span:
            ax.axvline(level, color=PALETTE[1], lw=1.0, alpha=0.8)
    ax.set_xlim(-span, span)
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel("weight value")


def _numbers(name: str, values) -> np.ndarray:
    """values (a tensor, an array or a list of finite numbers) as a flat float array, or an error naming the argument."""
    try:
        array = None if values is None else np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError, RuntimeError):
        array = None
    if array is None or not np.isfinite(array).all():
        fail(name, "finite numbers (a tensor, an array or a list)", values, ArgumentTypeError)
    return array


def speed_verdict(ratio: float, spread: tuple[float, float] | None = None) -> str:
    """'2.1× faster than fp32', '1.4× slower than fp32' or 'about as fast as fp32' (ratio = fp32 time / new time).

    spread: the (lower, upper) quartiles of the same ratio taken round by round (`timing.ratio_spread`). When they
    enclose 1 the difference is within this measurement's noise, and the verdict says so; otherwise they are quoted.
    """
    check_number("ratio", ratio, 0, low_open=True)
    if spread is not None:
        low, high = (float(v) for v in spread)
        if low <= 1 <= high:
            return (f"about as fast as fp32 (a {ratio:.2f}× speed ratio whose round-by-round values, {low:.2f}× to "
                    f"{high:.2f}× in the middle half, straddle 1: within this measurement’s noise)")
    if ratio >= 1.1:
        text = f"{ratio:.1f}× faster than fp32"
        return text + (f" (middle half of the rounds: {low:.1f}× to {high:.1f}×)" if spread is not None else "")
    if ratio <= 1 / 1.1:
        text = f"{1 / ratio:.1f}× slower than fp32"
        return text + (f" (middle half of the rounds: {1 / high:.1f}× to {1 / low:.1f}×)" if spread is not None else "")
    return "about as fast as fp32"


FORMAT_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "int8": ("avx512_vnni", "avx_vnni", "amx_int8")}


def cpu_flags(path: str = "/proc/cpuinfo") -> list[str] | None:
    """The CPU's feature flags (Linux's /proc/cpuinfo), or None where that file does not exist (macOS, Windows)."""
    check_text("path", path, empty=False)
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(("flags", "Features")):  # x86, ARM
                    return line.split(":", 1)[1].split()
    except OSError:
        return None
    return []


def format_support(flags: list[str] | None) -> str:
    """Which of the instructions that multiply bf16 or int8 directly this CPU lists, as a clause for the prose."""
    if flags is None:
        return "this machine does not say which instructions its CPU has (no /proc/cpuinfo)"
    parts = []
    for fmt, names in FORMAT_FLAGS.items():
        found = [n for n in names if n in flags]
        parts.append(f"{fmt} instructions ({', '.join(found)})" if found else f"no {fmt} instructions")
    return "this machine's CPU lists " + " and ".join(parts)


# ---- the numbers and verdicts the chapter's prose states (computed, never typed) -----------------------
def outlier_numbers(W_out: torch.Tensor, ordinary: torch.Tensor, bits: int = 4) -> dict[str, str]:
    """Chapter 6's outlier: with one symmetric scale for the tensor, which ordinary weights round to zero?

    A weight rounds to zero only below half a step; the largest ordinary weights may still land on ±1 step.
    `ordinary` is a boolean mask of W_out's shape: True for every weight but the outlier.
    """
    W_out = check_tensor("W_out", W_out, dim=2, floating=True)
    check_tensor("ordinary", ordinary)
    if ordinary.shape != W_out.shape or ordinary.dtype != torch.bool or not bool(ordinary.any()):
        fail("ordinary", f"a boolean mask of W_out's shape {tuple(W_out.shape)} with at least one True", ordinary)
    check_int("bits", bits, 2, 8)
    qt = Q.quantize_tensor(W_out, bits)
    step = float(qt.scale)
    codes = qt.codes.reshape(W_out.shape)[ordinary]
    n, nonzero = int(ordinary.sum()), int((codes != 0).sum())
    used = sorted(set(codes.tolist()))
    return {
        "outlier_step": f"{step:.2f}",
        "outlier_half_step": f"{step / 2:.2f}",
        "ordinary_max": f"{float(W_out[ordinary].abs().max()):.2f}",
        "ordinary_levels": str(len(used)),
        "ordinary_zero_share": f"{(n - nonzero) / n:.0%}",
        "outlier_rounding": outlier_verdict(n, nonzero, used),
    }


def outlier_verdict(n_ordinary: int, n_nonzero: int, codes_used) -> str:
    """What one scale set by an outlier does to the ordinary weights: all to zero, or all but the largest."""
    if n_nonzero == 0:
        return f"every one of the {n_ordinary:,} ordinary weights rounds to zero"
    shown = ", ".join(f"{c:+d}" if c else "0" for c in codes_used)
    return (f"{n_ordinary - n_nonzero:,} of the {n_ordinary:,} ordinary weights round to zero, and only the "
            f"{n_nonzero:,} largest keep a code other than 0 (codes used: {shown})")


def qat_verdict(ptq_loss: float, control_loss: float, qat_loss: float, float_loss: float, float_before: float,
                steps: int) -> str:
    """How close 2-bit QAT came to the float model, and whether the extra training alone (the control) did as well.

    The fair float reference is the control's *float* loss, `float_loss`: the float model after the same `steps`
    training steps as QAT (`float_before` is its loss before them; a model that is not converged improves with
    them). `control_loss` is the control quantized to the same bits afterwards.
    """
    check_int("steps", steps, 1)
    if qat_loss < ptq_loss:
        gap = qat_loss - float_loss
        cost = (f"2-bit weights with QAT cost {gap:.2f} in loss here" if gap >= 0.005 else
                f"2-bit weights with QAT even ended {-gap:.2f} below it here" if gap <= -0.005 else
                "2-bit weights with QAT matched it here")
        gist = (f"QAT brought the 2-bit loss from {ptq_loss:.2f} to {qat_loss:.2f}. The float model trained for the "
                f"same {steps} steps reaches {float_loss:.2f} ({float_before:.2f} before them), so {cost}")
    else:
        gist = f"QAT did not lower the 2-bit loss here ({ptq_loss:.2f} before, {qat_loss:.2f} after)"
    if control_loss > qat_loss:
        return (gist + f"; training as long in float and quantizing afterwards ended at {control_loss:.2f}, so the "
                "gain is QAT’s, not the extra training’s: the model learned weights that survive rounding.")
    return (gist + f"; training as long in float and quantizing afterwards did as well ({control_loss:.2f}), so here "
            "the extra training, not QAT, did the work.")


def qat_summary(ptq_loss: float, qat_loss: float, float_loss: float) -> str:
    """The summary's short form of `qat_verdict` (`float_loss`: the float model trained as long as QAT)."""
    if qat_loss >= ptq_loss:
        return "did not repair it"
    gap = qat_loss - float_loss
    if gap >= 0.005:
        return f"brought it to within {gap:.2f} of the equally trained float model"
    if gap <= -0.005:
        return f"brought it {-gap:.2f} below the equally trained float model"
    return "brought it to the loss of the equally trained float model"


def tiny_speed_reason(ratio: float, spread: tuple[float, float] | None = None) -> str:
    """Why int8 ran as it did on the tiny model (ratio = fp32 time / int8 time): the prose follows the measurement.

    spread: the round-by-round quartiles of the ratio (`timing.ratio_spread`); a gain within them is not claimed.
    """
    overheads = "quantizing every input, calling the int8 kernel, converting the result back"
    if ratio >= 1.1 and (spread is None or float(spread[0]) > 1):
        return (f"this CPU’s int8 kernels pay off even here, but with matrices of a few hundred weights the fixed costs "
                f"of int8 — {overheads} — are of the same order as the arithmetic they save, so on another machine "
                "the tiny model can just as well run slower in int8")
    return (f"with matrices of a few hundred weights, the fixed costs of int8 — {overheads} — are of the same order "
            "as the arithmetic they save")
