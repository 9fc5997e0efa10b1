"""Chapter 9's lab: the skew of the data in, the bias of the parameters out; and a mitigation knob."""
from __future__ import annotations

from knobs import bias
from knobs.lab import Choice, Lab, Slider
from knobs.views import PALETTE, LossView, PredictionsView, View


class BiasView(View):
    """Next-word bias and job separation against step, on fixed axes from −0.2 to 1."""

    title = "learned bias"
    metric_names = ("bias_next", "job_separation")

    def setup(self, ax, total_steps):
        self.ax = ax
        ax.set_title(self.title, fontsize=9)
        ax.set_xlim(0, total_steps)
        ax.set_ylim(-0.2, 1.05)
        ax.axhline(0, color="#999", lw=0.8)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        labels = {"bias_next": "next-word bias", "job_separation": "job separation (embeddings)"}
        self.lines = {m: self._keep(ax.plot([], [], color=PALETTE[i + 3], lw=1.5, label=labels[m])[0])
                      for i, m in enumerate(self.metric_names)}
        ax.legend(fontsize=7, loc="lower right")

    def update(self, snap, history):
        for name, line in self.lines.items():
            line.set_data(history.steps, history.metrics[name])
        return False

    def describe(self, snap):
        return (f"Next-word bias {snap.metrics['bias_next']:.2f} (0 = none, 1 = fully stereotyped); "
                f"job separation {snap.metrics['job_separation']:.2f}.")


def skew_run(values, steps, every):
    return bias.bias_run(values["skew"], values["mitigation"], steps=steps, every=every)


def bias_lab() -> Lab:
    return Lab(
        name="ch09-bias",
        title="Skewed data in, biased parameters out",
        controls=[Slider("skew", "skew of the data", 0.5, 1.0, 0.9, twin=(0.5, 0.75, 1.0), fmt="{:.0%}"),
                  Choice("mitigation", "mitigation", bias.MITIGATIONS, "none")],
        run=skew_run,
        views=[lambda: BiasView(),
               lambda: PredictionsView("farmer said", ["he", "she"]),
               lambda: LossView(("train_loss", "farm_loss"), title="loss (farm_loss: the cost)")],
        steps=300, every=5, twin_frames=6, figsize=(11.5, 2.7),
    )


LABS = [bias_lab]
