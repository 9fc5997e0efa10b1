"""Chapter 8's code, the lab: pick a fine-tuning strategy, watch which parameter tensors move."""
from __future__ import annotations

from knobs import transfer
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
