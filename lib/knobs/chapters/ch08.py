"""Chapter 8's code: the lab (pick a fine-tuning strategy, watch which tensors move), the forgetting
measurements (adapters on and off, rehearsal), LoRA's share of GPT-2, and the numbers the prose states."""
from __future__ import annotations

from functools import lru_cache

import torch

from knobs import data, models, train, transfer
from knobs.lora import LoRALinear, gpt2_lora_count
from knobs.models import check_tiny_lm
from knobs.validate import ArgumentTypeError, check_bool, check_instance, fail
from knobs.lab import Choice, Lab, Slider
from knobs.figures import LABEL_SIZE, PALETTE, style_axes
from knobs.lab.views import LossView, View

TENSORS = ("embed.weight", "hidden.weight", "hidden.bias", "out.weight", "out.bias")


class ChangeBarsView(View):
    """How far each tensor has moved from where fine-tuning started: ‖W − W₀‖ / ‖W₀‖."""

    title = "relative change of each tensor"

    def setup(self, ax, total_steps):
        self.ax = ax
        style_axes(ax, self.title)
        ax.set_yticks(range(len(TENSORS)), TENSORS, fontsize=LABEL_SIZE)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.0)
        ax.set_xlabel("‖W − W₀‖ / ‖W₀‖", fontsize=LABEL_SIZE)
        self.bars = self._keep(*ax.barh(range(len(TENSORS)), [0] * len(TENSORS), color=PALETTE[5]).patches)

    def update(self, snap, history):
        change = snap.info["change"]
        for bar, name in zip(self.bars, TENSORS):
            bar.set_width(change[name])
        peak = max(change.values())
        if peak > self.ax.get_xlim()[1]:
            self.ax.set_xlim(0, peak * 1.3)
            return True
        return False

    def describe(self, snap):
        change = snap.info["change"]
        moved = ", ".join(f"{k} {v:.0%}" for k, v in change.items())
        return f"Relative change since fine-tuning began: {moved}. Trainable numbers: {snap.info['trainable']:,}."


def strategy_run(values, steps, every):
    return transfer.fine_tune(values["strategy"], rank=values["rank"], steps=steps, every=every)


def fine_tuning_lab() -> Lab:
    return Lab(
        name="ch08-fine-tuning",
        title="Which parameters does fine-tuning change?",
        controls=[Choice("strategy", "strategy", transfer.STRATEGIES, "full fine-tune"),
                  Slider("rank", "LoRA rank (LoRA only)", 1, 8, 4, integer=True, twin=(1, 8))],
        run=strategy_run,
        views=[lambda: ChangeBarsView(),
               lambda: LossView(("test_loss", "old_loss"), title="loss: new style vs original corpus"),
               lambda: LossView(("test_acc",), title="next-word accuracy, new style", ylabel="accuracy")],
        steps=100, every=2, twin_frames=11,  # every=2: 50 live frames, paced over 4 s
    )


LABS = [fine_tuning_lab]

def pretraining_numbers() -> dict[str, str]:
    """How much of the farm corpus the pretrained model (chapter 1's) trained on, and the corpora's sizes."""
    split = data.farm_split()
    share = len(split.y) / (len(split.y) + len(split.y_val))
    sentences = [line for line in data.read_corpus_text("farm").splitlines() if line.strip()]
    return {"pretrain_share": f"{share:.0%}",
            "farm_sentences": f"{len(sentences):,}", "max_train": str(transfer.MAX_TRAIN)}


# ---- strategies: where each one ends, and where it is best ---------------------------------------------------

def best_step(snaps) -> tuple[int, float]:
    """(step, test loss) of the snapshot with the lowest new-style test loss."""
    if not isinstance(snaps, (list, tuple)) or not snaps or not all(isinstance(s, train.Snapshot) for s in snaps):
        fail("snaps", "a non-empty list of fine-tuning Snapshots (list(transfer.fine_tune(...)))", snaps,
             ArgumentTypeError)
    best = min(snaps, key=lambda snap: snap.metrics["test_loss"])
    return best.step, best.metrics["test_loss"]


def strategy_numbers(runs: dict) -> dict[str, str]:
    """The prose's numbers about the strategy runs (runs: strategy -> list of fine-tuning Snapshots)."""
    scratch, tuned = runs["from scratch"][-1].metrics, runs["full fine-tune"][-1].metrics
    tuned_best = {s: best_step(snaps) for s, snaps in runs.items() if s != "from scratch"}
    losses = [loss for _, loss in tuned_best.values()]
    full_step, full_best = tuned_best["full fine-tune"]
    return {
        "steps_run": str(runs["full fine-tune"][-1].step),
        "scratch_acc": f"{scratch['test_acc']:.0%}", "tuned_acc": f"{tuned['test_acc']:.0%}",
        "scratch_loss": f"{scratch['test_loss']:.2f}", "tuned_loss": f"{tuned['test_loss']:.2f}",
        "scratch_start": f"{runs['from scratch'][0].metrics['test_loss']:.2f}",
        "tuned_start": f"{runs['full fine-tune'][0].metrics['test_loss']:.2f}",
        "best_spread": f"{max(losses) - min(losses):.2f}",
        "full_best_step": str(full_step), "full_best_loss": f"{full_best:.2f}",
        "full_end_loss": f"{tuned['test_loss']:.2f}",
        "slowest_best_step": str(max(step for step, _ in tuned_best.values())),
        "slowest_strategy": max(tuned_best, key=lambda s: tuned_best[s][0]),
    }


# ---- LoRA's share of GPT-2 small ------------------------------------------------------------------------------

CHAPTER_TARGETS = ("attn_qkv", "attn_proj")  # this chapter's choice: every attention matrix
PAPER_TARGETS = ("attn_q", "attn_v")  # Hu et al.'s: W_q and W_v only


def gpt2_total() -> int:
    """GPT-2 small's parameters (tied), from its configuration (chapter 1's formula; equal to counting the built model)."""
    return sum(models.gpt2_parameter_formula(models.GPT2Config()).values())


def lora_percent(rank: int, targets=CHAPTER_TARGETS) -> float:
    """Percent of GPT-2 small's parameters that rank-`rank` adapters on `targets` of every block train."""
    return 100 * gpt2_lora_count(models.GPT2Config(), rank, targets) / gpt2_total()


def largest_rank_under(percent: float = 1.0, targets=CHAPTER_TARGETS) -> int:
    """The largest rank whose adapters on `targets` train less than `percent` of GPT-2 small."""
    per_rank = gpt2_lora_count(models.GPT2Config(), 1, targets)  # the count is linear in the rank
    rank = int(percent / 100 * gpt2_total() // per_rank)
    return rank if lora_percent(rank + 1, targets) >= percent else rank + 1


def rank_numbers() -> dict[str, str]:
    """Where 'under 1%' stops holding, for this chapter's choice of matrices and for the paper's."""
    ours, paper = largest_rank_under(1.0), largest_rank_under(1.0, PAPER_TARGETS)
    return {"rank_under_1": str(ours), "pct_under_1": f"{lora_percent(ours):.3f}",
            "rank_over_1": str(ours + 1), "pct_over_1": f"{lora_percent(ours + 1):.3f}",
            "paper_rank_under_1": str(paper), "paper_pct_rank4": f"{lora_percent(4, PAPER_TARGETS):.3f}",
            "paper_count_rank4": f"{gpt2_lora_count(models.GPT2Config(), 4, PAPER_TARGETS):,}"}


# ---- forgetting: adapters on and off ----------------------------------------------------------------------------

def set_adapters(model, enabled: bool) -> None:
    """Switch every LoRA adapter of `model` on or off (its pretrained weights are untouched either way)."""
    check_tiny_lm(model, exact=True)
    check_bool("enabled", enabled)
    for layer in (model.hidden, model.out):
        if isinstance(layer, LoRALinear):
            layer.enabled = enabled


def losses(model, task) -> dict[str, float]:
    """New-style test loss; original-corpus loss, all of it and where the two styles agree on the next word."""
    return {"new": train.evaluate(model, task.X_test, task.y_test),
            "old": train.evaluate(model, task.X_old, task.y_old),
            "old_agree": train.evaluate(model, task.X_old[task.agree], task.y_old[task.agree])}


def forgetting_table(pretrained, full, lora, task) -> dict[str, dict[str, float]]:
    """Losses of the pretrained model, a full fine-tune, and a LoRA fine-tune with its adapters on and off."""
    for name, model in (("pretrained", pretrained), ("full", full), ("lora", lora)):
        check_tiny_lm(model, name, exact=True)
    if not isinstance(lora.hidden, LoRALinear) or not isinstance(lora.out, LoRALinear):
        fail("lora", "a model from transfer.prepare('LoRA') (its hidden and out layers are LoRALinear)", lora)
    check_instance("task", task, transfer.StyleTask, "a StyleTask (transfer.make_style_task())")
    table = {"pretrained": losses(pretrained, task), "full fine-tune": losses(full, task)}
    set_adapters(lora, True)
    table["LoRA, adapters on"] = losses(lora, task)
    set_adapters(lora, False)
    table["LoRA, adapters off"] = losses(lora, task)
    set_adapters(lora, True)
    return table


def more_or_less(a: float, b: float) -> str:
    """'more than' / 'less than' / 'as much as': how a compares with b (a verdict the prose states)."""
    return "more than" if a > b * 1.02 else ("less than" if a < b / 1.02 else "about as much as")


def forgetting_numbers(table: dict, change_full: dict, change_lora: dict) -> dict[str, str]:
    """The prose's numbers and verdicts about forgetting (table: forgetting_table; changes: info['change'])."""
    pre, full = table["pretrained"], table["full fine-tune"]
    on, off = table["LoRA, adapters on"], table["LoRA, adapters off"]
    lora_move = (change_lora["hidden.weight"] + change_lora["out.weight"]) / 2
    full_move = (change_full["hidden.weight"] + change_full["out.weight"]) / 2
    return {
        "old_pre": f"{pre['old']:.2f}", "old_full": f"{full['old']:.2f}", "old_on": f"{on['old']:.2f}",
        "old_off": f"{off['old']:.2f}", "new_on": f"{on['new']:.2f}", "new_off": f"{off['new']:.2f}",
        "agree_pre": f"{pre['old_agree']:.2f}", "agree_full": f"{full['old_agree']:.2f}",
        "agree_on": f"{on['old_agree']:.2f}",
        "off_is_pretrained": "exactly" if off == pre else "not exactly",
        "lora_vs_full_forgetting": more_or_less(on["old"] - pre["old"], full["old"] - pre["old"]),
        "lora_move": f"{lora_move:.0%}", "full_move": f"{full_move:.0%}",
        "lora_vs_full_move": more_or_less(lora_move, full_move),
    }


# ---- the exercises' experiments (the checkers recompute them; cached, so a check costs one run) ------------------

TARGET_TRAIN_LOSS = 0.45  # exercise 2: the smallest LoRA rank whose training loss gets below this
ON_OFF_RANK = 1  # exercise 5: forgetting with a rank-1 adapter, on and off


@lru_cache(maxsize=None)
def lora_train_loss(rank: int) -> float:
    """Loss on the 12 fine-tuning sentences' pairs after 150 steps of LoRA at `rank` (exercise 2)."""
    model = transfer.prepare("LoRA", rank=rank)
    train.run_to_end(transfer.train_on_task(model, every=150))
    task = transfer.make_style_task()
    return train.evaluate(model, task.X_train, task.y_train)


def smallest_rank(target: float = TARGET_TRAIN_LOSS, ranks=range(1, 9)) -> int:
    """The smallest rank whose training loss after 150 steps is below `target` (exercise 2)."""
    return next(r for r in ranks if lora_train_loss(r) < target)


@lru_cache(maxsize=None)
def on_off_losses(rank: int = ON_OFF_RANK) -> dict[str, float]:
    """Original-corpus loss after a LoRA fine-tune: adapters on, off, and only one of the two off (exercise 5)."""
    model = transfer.prepare("LoRA", rank=rank)
    train.run_to_end(transfer.train_on_task(model, every=150))
    task = transfer.make_style_task()
    result = {}
    for name, hidden, out in (("on", True, True), ("off", False, False), ("hidden off", False, True),
                              ("out off", True, False)):
        model.hidden.enabled, model.out.enabled = hidden, out
        result[name] = train.evaluate(model, task.X_old, task.y_old)
    return result


@lru_cache(maxsize=None)
def rehearsal_losses(n_pairs: int | None = None, old_first: bool = False, seed: int = 0,
                     shuffle: bool = False) -> dict[str, float]:
    """A full fine-tune on the task's pairs plus `n_pairs` rehearsed original pairs (default: as many) (exercise 6).

    `seed` picks the rehearsed pairs (`transfer.rehearsal_pairs`); `old_first` and `shuffle` are the other ways of
    joining the two sets (the batches are drawn by index, so each faithful variant gives slightly other numbers).
    """
    task = transfer.make_style_task()
    X_old, y_old = transfer.rehearsal_pairs(len(task.y_train) if n_pairs is None else n_pairs, seed=seed)
    parts = [(task.X_train, task.y_train), (X_old, y_old)]
    if old_first:
        parts.reverse()
    X, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if shuffle:
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
        X, y = X[order], y[order]
    model = transfer.prepare("full fine-tune")
    train.run_to_end(transfer.train_on_task(model, X, y, every=150))
    return {"old": train.evaluate(model, task.X_old, task.y_old), "new": train.evaluate(model, task.X_test, task.y_test)}


REHEARSAL_VARIANTS = tuple((seed, old_first, shuffle) for seed in (0, 1, 2) for old_first, shuffle
                           in ((False, False), (True, False), (False, True)))


@lru_cache(maxsize=None)
def rehearsal_band(margin: float = 0.5) -> dict[str, tuple[float, float]]:
    """{"old": (low, high), "new": (low, high)}: the range of the rehearsal losses over REHEARSAL_VARIANTS (three
    seeds of the rehearsed pairs, three ways of joining them), widened on each side by `margin` times its width.
    Any faithful rehearsal run lands in it; the plain fine-tune and the pretrained model lie far outside it."""
    runs = [rehearsal_losses(seed=seed, old_first=old_first, shuffle=shuffle)
            for seed, old_first, shuffle in REHEARSAL_VARIANTS]
    band = {}
    for key in ("old", "new"):
        low, high = min(r[key] for r in runs), max(r[key] for r in runs)
        band[key] = (low - margin * (high - low), high + margin * (high - low))
    return band
