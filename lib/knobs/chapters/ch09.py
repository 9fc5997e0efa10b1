"""Chapter 9's code: the lab (the skew of the data in, the bias of the parameters out; a mitigation knob), the
chapter's experiments (the control for counterfactual data, the direction score's starting point, gradient ×
weight against real zeroing, the probe's control task) and the numbers and verdicts its prose states."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from knobs import bias, data, interpret, models
from knobs.figures import PALETTE
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import CurvesView, LossView, PredictionsView
from knobs.validate import check_fraction, check_instance, check_number

SKEWS = (0.5, 0.7, 0.9, 1.0)
STEPS = 300  # every run of the chapter: Adam steps of train_lm (batches of 64 pairs) at lr 0.03, seed 0
FUNCTION_WORDS = data.CATEGORIES["function"]  # 'the', 'in', '.': exercise 5's probe property


def signed(x: float, digits: int = 2) -> str:
    """'+0.04', '−0.06': a signed number for the prose, with a real minus sign."""
    check_number("x", x)
    return f"{x:+.{digits}f}".replace("-", "−")


def plain(x: float, digits: int = 2) -> str:
    """'0.04', '−0.06'."""
    check_number("x", x)
    return f"{x:.{digits}f}".replace("-", "−")


# ---- the lab ----------------------------------------------------------------------------------------------------

def bias_view() -> CurvesView:
    """Next-word bias and job separation against step, on fixed axes from −0.2 to 1.2 (the separation starts at 1.10)."""
    return CurvesView(["bias_next", "job_separation"], title="learned bias", ylim=(-0.2, 1.2),
                      reference={"_zero": 0.0}, legend="lower right", colors=PALETTE[3:],
                      labels={"bias_next": "next-word bias", "job_separation": "job separation (embeddings)"},
                      summary="Next-word bias {bias_next:.2f} (0 = none, 1 = fully stereotyped, −1 = the opposite); "
                              "job separation {job_separation:.2f}.")


def skew_run(values, steps, every):
    return bias.bias_run(values["skew"], values["mitigation"], steps=steps, every=every)


def bias_lab() -> Lab:
    return Lab(
        name="ch09-bias",
        title="Skewed data in, biased parameters out",
        controls=[Slider("skew", "skew of the data", 0.5, 1.0, 0.9, twin=(0.5, 0.75, 1.0), fmt="{:.0%}"),
                  Choice("mitigation", "mitigation", bias.MITIGATIONS, "none")],
        run=skew_run,
        views=[bias_view,
               lambda: PredictionsView("farmer said", ["he", "she"]),
               lambda: LossView(("train_loss", "farm_loss"), title="loss (farm_loss: the cost)")],
        steps=STEPS, every=5, twin_frames=11,
    )


LABS = [bias_lab]


# ---- skew in, bias out ------------------------------------------------------------------------------------------

def skew_numbers(results: dict) -> dict[str, str]:
    """The prose's numbers for the skew sweep; `results[skew]` = (next-word bias, direction score, separation)."""
    check_instance("results", results, dict, "{skew: (next-word bias, direction score, job separation)}")
    realised = {s: bias.data_bias(bias.job_sentences(s)) for s in results}
    gaps = {s: results[s][0] - realised[s] for s in results}
    low, high = min(results), max(results)
    return {"data_bias_low": signed(realised[low]), "model_bias_low": signed(results[low][0]),
            "separation_low": plain(results[low][2]), "separation_high": plain(results[high][2]),
            "skew_high": f"{high:.0%}",
            "skew_low": f"{low:.0%}", "largest_gap": plain(max(abs(g) for g in gaps.values())),
            "ratio_pairs": "; ".join(f"{s:.0%}: {results[s][0]:.2f} against {realised[s]:.2f}".replace("-", "−")
                                     for s in results if s != low)}


def realised_skews(skews=SKEWS) -> list[float]:
    """The data's own next-word bias at each nominal skew (what the figure's reference line shows)."""
    check_instance("skews", skews, (tuple, list), "a tuple of skews, each in [0, 1]")
    for skew in skews:
        check_fraction("skews", skew)
    return [bias.data_bias(bias.job_sentences(s)) for s in skews]


# ---- the direction score mostly measures the initialisation ----------------------------------------------------

@torch.no_grad()
def direction_numbers(model, vocab, seed: int = 0) -> dict[str, str]:
    """How far training moved g = e_he − e_she, and the direction score of the same model before training."""
    models.check_tiny_lm(model, exact=True)
    start = models.make_tiny_lm(len(vocab), seed=seed)  # train_skewed's initialisation
    g0 = start.embed.weight[vocab.id("he")] - start.embed.weight[vocab.id("she")]
    g1 = model.embed.weight[vocab.id("he")] - model.embed.weight[vocab.id("she")]
    return {"g_cos_start": plain(float(F.cosine_similarity(g0, g1, dim=0))),
            "g_norm_start": plain(float(g0.norm())), "g_norm_end": plain(float(g1.norm())),
            "direction_untrained": signed(bias.embedding_bias(start, vocab)),
            "separation_untrained": plain(bias.job_separation(start, vocab))}


def seed_direction_scores(skew: float = 0.9, seeds=(1, 2, 3)) -> dict[str, str]:
    """The direction score at `skew` from other initialisations: its sign is the seed's, not the data's."""
    check_fraction("skew", skew)
    scores = []
    for seed in seeds:
        model, vocab, _ = bias.train_skewed(skew, seed=seed)
        scores.append(signed(bias.embedding_bias(model, vocab)))
    return {"seed_list": ", ".join(map(str, seeds[:-1])) + f" and {seeds[-1]}",
            "seed_scores": ", ".join(scores[:-1]) + f" and {scores[-1]}"}


# ---- mitigations, and the control for counterfactual data ------------------------------------------------------

ROWS = (("none", "none", False), ("counterfactual data", "counterfactual data", False),
        ("project out direction", "project out direction", False), ("duplicated, no swap", "none", True))


def mitigation_table(skew: float = 0.9) -> dict[str, dict]:
    """Each mitigation, and the duplicated-job-sentences control, at `skew`: the last snapshot's metrics."""
    check_fraction("skew", skew)
    table = {}
    for label, mitigation, duplicate in ROWS:
        *_, last = bias.bias_run(skew, mitigation, steps=STEPS, every=STEPS, duplicate=duplicate)
        table[label] = last.metrics
    return table


def farm_share(augment: bool = False, duplicate: bool = False, skew: float = 0.9) -> float:
    """Fraction of the training tokens that come from the plain farm sentences (the rest: job sentences)."""
    farm = len(data.load_corpus("farm").tokens)
    jobs = sum(len(s.split()) for s in bias.job_sentences(skew, augment=augment, duplicate=duplicate))
    return farm / (farm + jobs)


def mitigation_numbers(table: dict) -> dict[str, str]:
    """The prose's numbers for the mitigation table."""
    check_instance("table", table, dict, "mitigation_table()'s result")
    return {"farm_loss_none": plain(table["none"]["farm_loss"]),
            "farm_loss_cda": plain(table["counterfactual data"]["farm_loss"]),
            "farm_loss_dup": plain(table["duplicated, no swap"]["farm_loss"]),
            "bias_dup": signed(table["duplicated, no swap"]["bias_next"]),
            "bias_projected": plain(table["project out direction"]["bias_next"]),
            "farm_share_plain": f"{farm_share():.0%}", "farm_share_doubled": f"{farm_share(augment=True):.0%}"}


def cda_cost_verdict(table: dict, tolerance: float = 0.03) -> str:
    """Is counterfactual data's cost explained by the extra sentences? (the prose's verdict, with a test)."""
    check_instance("table", table, dict, "mitigation_table()'s result")
    base = table["none"]["farm_loss"]
    cda, dup = table["counterfactual data"]["farm_loss"] - base, table["duplicated, no swap"]["farm_loss"] - base
    if cda > 0 and dup >= cda - tolerance:
        return ("duplicating the job sentences without swapping costs as much, so the cost comes from the extra "
                "sentences, not from the balancing")
    return "duplicating the job sentences without swapping costs less, so part of the cost is the balancing itself"


# ---- gradient × weight against zeroing --------------------------------------------------------------------------

def attribution_numbers(model, vocab, context: str = "farmer said", word: str = "he") -> dict[str, str]:
    """One weight's estimated drop against the real change, and the same for the whole output matrix.

    The weight is out.weight[word, unit], unit the hidden unit whose zero-ablation changes P(word) most.
    """
    unit = int(interpret.hidden_unit_effects(model, vocab, context, word).abs().argmax())
    attribution = interpret.gradient_x_weight(model, vocab, context, word)
    index = (vocab.id(word), unit)
    estimate = float(attribution["out.weight"][index])
    change = interpret.zeroing_change(model, vocab, context, word, "out.weight", index)
    return {"gxw_unit": str(unit), "gxw_one_estimate": signed(estimate, 3), "gxw_one_change": signed(change, 3),
            "gxw_verdict": estimate_verdict(estimate, change),
            "gxw_out_sum": signed(float(attribution["out.weight"].sum())),
            "gxw_out_change": signed(interpret.zeroing_change(model, vocab, context, word, "out.weight"))}


def estimate_verdict(estimated_drop: float, change: float, close: float = 0.1) -> str:
    """How gradient × weight's estimated drop compares with the real change from zeroing (the prose's verdict)."""
    check_number("estimated_drop", estimated_drop)
    check_number("change", change)
    actual_drop = -change
    if estimated_drop * actual_drop <= 0:
        return "even the sign is wrong"
    error = abs(estimated_drop - actual_drop) / abs(actual_drop)
    if error <= close:
        return f"the estimate is within {error:.0%} of it"
    return f"the sign is right, the size is off by {error:.0%}"


# ---- the probe and its control task ----------------------------------------------------------------------------

def next_word_labels(corpus, y: torch.Tensor, words) -> torch.Tensor:
    """1 where the next word y is one of `words` (a category's members), else 0."""
    words = set(words)
    return torch.tensor([w in words for w in corpus.vocab.decode(y)]).long()


def probe_numbers(trained: dict, untrained: dict, labels: torch.Tensor, X: torch.Tensor) -> dict[str, str]:
    """The prose's numbers for the probe: both models' task and control accuracies, and the data's shape."""
    check_instance("trained", trained, dict, "interpret.probe_selectivity(...)'s result")
    types, inverse = X.unique(dim=0, return_inverse=True)
    mixed = sum(len(labels[inverse == t].unique()) > 1 for t in range(len(types)))
    return {"n_contexts": str(len(types)), "n_mixed": str(mixed),
            "place_rate": f"{float(labels.float().mean()):.1%}", "majority": f"{1 - float(labels.float().mean()):.1%}",
            "task_trained": f"{trained['task']:.1%}", "control_trained": f"{trained['control']:.1%}",
            "sel_trained": signed(trained["selectivity"], 3),
            "task_untrained": f"{untrained['task']:.1%}", "control_untrained": f"{untrained['control']:.1%}",
            "sel_untrained": signed(untrained["selectivity"], 3),
            "control_rate": f"{trained['control_rate']:.1%}", "control_majority": f"{1 - trained['control_rate']:.1%}"}


def draws_numbers(draws: dict) -> dict[str, str]:
    """The prose's numbers for selectivity over several control draws (interpret.selectivity_over_controls)."""
    check_instance("draws", draws, dict, "interpret.selectivity_over_controls(...)'s result")
    rates = draws["control_rates"]
    return {"n_draws": str(len(draws["seeds"])), "sel_mean": signed(draws["mean"], 3), "sel_sd": plain(draws["sd"], 3),
            "sel_min": signed(min(draws["selectivities"]), 3), "sel_max": signed(max(draws["selectivities"]), 3),
            "rate_min": f"{min(rates):.1%}", "rate_max": f"{max(rates):.1%}"}


def context_ceiling(X: torch.Tensor, labels: torch.Tensor) -> float:
    """The best accuracy any function of the context can reach: each context answers its majority label."""
    types, inverse = X.unique(dim=0, return_inverse=True)
    right = sum(int(torch.bincount(labels[inverse == t]).max()) for t in range(len(types)))
    return right / len(labels)


def selectivity_verdict(selectivity: float, meaningful: float = 0.05) -> str:
    """What a selectivity says about the probe's accuracy (the prose's verdict, with a test)."""
    check_number("selectivity", selectivity, -1, 1)
    if selectivity < meaningful:
        return "about zero: the probe does as well on labels that mean nothing"
    return "clearly above zero: the probe reads the property better than meaningless labels"
