"""Chapter 9 exercises: compute the bias score, judge a mitigation, zero a weight and compare it with its
gradient × weight estimate, mean-ablate a hidden unit, measure a probe's selectivity with a control task."""
import functools
import math

from knobs import bias, data, interpret, models
from knobs.chapters import ch09
from knobs.exercises.checker import as_number, direction_hint, exercise, is_close, multiple_choice


@exercise("ch09.bias_score")
def check_bias_score(answer):
    """Next-word bias for P(he|farmer said)=0.8, P(she|farmer said)=0.15, P(she|vet said)=0.7, P(he|vet said)=0.25."""
    expected = 0.5 * (0.8 - 0.15) + 0.5 * (0.7 - 0.25)
    if is_close(answer, expected, rel=1e-6):
        return True, "Half the farmer gap plus half the vet gap."
    if is_close(answer, (0.8 - 0.15) + (0.7 - 0.25), rel=1e-6):
        return False, "You added the two gaps; the score averages them."
    if is_close(answer, 0.5 * (0.8 - 0.15) - 0.5 * (0.7 - 0.25), rel=1e-6):
        return False, "For the vet, the favoured pronoun is 'she': its gap is P(she) − P(he)."
    return False, "Use the formula in the chapter: average, over the two jobs, of P(favoured) − P(other)."


check_mitigation = multiple_choice(
    "ch09.mitigation", "Which mitigation removed the next-word bias in the lab?", right="counterfactual data",
    feedback={"none": "With no mitigation the bias follows the skew.",
              "counterfactual data": "Balancing the data removed what the parameters could learn; "
                                     "projecting a direction did not.",
              "project out direction": "Look at the next-word bias curve with that setting: the direction went, "
                                       "the bias stayed."})


# ---- the runs the exercises ask for, on the chapter's skew-0.9 model (deterministic: seed 0, one thread) ----------

@functools.lru_cache(maxsize=1)
def _skewed():
    model, vocab, _ = bias.train_skewed(0.9)
    corpus = bias.make_skewed_corpus(0.9)
    X, y = data.make_dataset(corpus)
    return model, vocab, corpus, X, y


def _rounded(value: float, truth: float) -> bool:
    """The true value rounded faithfully to 2 decimals (as a reader who copies a printed number would)."""
    return round(truth, 2) != 0 and abs(value - round(truth, 2)) < 1e-9


@functools.lru_cache(maxsize=1)
def _zeroing() -> dict[str, float]:
    model, vocab, *_ = _skewed()
    attribution = interpret.gradient_x_weight(model, vocab, "farmer said", "he")["out.weight"]
    index = divmod(int(attribution.abs().argmax()), attribution.shape[1])
    with_probs = models.next_word_probs(model, vocab, "farmer said", ["he"])["he"]
    change = interpret.zeroing_change(model, vocab, "farmer said", "he", "out.weight", index)
    return {"change": change, "estimate": float(attribution[index]),
            "prob_change": with_probs * (math.exp(change) - 1)}


@exercise("ch09.zero_weight")
def check_zero_weight(answer):
    """Zero the out.weight entry with the largest |gradient × weight|: the actual change in log P(he | farmer said)."""
    z = _zeroing()
    value = as_number(answer)
    if is_close(value, z["change"], rel=0.01, abs_tol=5e-4) or _rounded(value, z["change"]):
        return True, ("That is the real change. Gradient × weight's first-order estimate of it is −(w·∂log P/∂w): "
                      "compare the two, in sign and in size.")
    if is_close(value, -z["change"], rel=0.01, abs_tol=5e-4):
        return False, "Check the sign: the exercise asks for the change, log P after zeroing minus log P before."
    if is_close(abs(value), abs(z["estimate"]), rel=0.01, abs_tol=5e-4):
        return False, ("That is gradient × weight's estimate. The exercise asks what really happens: zero the "
                       "weight (interpret.zeroing_change) and measure.")
    if is_close(value, z["prob_change"], rel=0.02, abs_tol=5e-4):
        return False, "That is the change in the probability P(he); the exercise asks for the change in log P(he)."
    return False, (f"{direction_hint(value, z['change'])} Find the entry of out.weight whose |gradient × weight| is "
                   "largest, and zero that one entry (the change is in log P(he | farmer said)).")


@functools.lru_cache(maxsize=1)
def _ablation(unit: int = 29) -> dict[str, float]:
    model, vocab, _, X, _ = _skewed()
    means = interpret.hidden_activations(model, X).mean(0)
    return {"mean": float(interpret.hidden_unit_effects(model, vocab, "farmer said", "he", baseline=means)[unit]),
            "zero": float(interpret.hidden_unit_effects(model, vocab, "farmer said", "he")[unit])}


@exercise("ch09.mean_ablation")
def check_mean_ablation(answer):
    """Mean-ablate hidden unit 29: the change in P(he | farmer said)."""
    a = _ablation()
    value = as_number(answer)
    if is_close(value, a["mean"], rel=0.01, abs_tol=2e-4) or _rounded(value, a["mean"]):
        return True, ("Replacing the unit by its average gives a different number than switching it to zero: "
                      "what an ablation measures depends on what you replace the unit with.")
    if is_close(value, a["zero"], rel=0.01, abs_tol=2e-4):
        return False, ("That is the zero-ablation effect. Replace the unit's output by its mean activation over the "
                       "corpus's contexts instead (the baseline argument).")
    if is_close(value, -a["mean"], rel=0.01, abs_tol=2e-4):
        return False, "Check the sign: the change is P(he) after the ablation minus P(he) before."
    return False, (f"{direction_hint(value, a['mean'])} Compute each hidden unit's mean output over all the "
                   "contexts X, pass it as `baseline`, and read unit 29's entry.")


@functools.lru_cache(maxsize=1)
def _selectivity() -> dict[str, float]:
    model, _, corpus, X, y = _skewed()
    labels = ch09.next_word_labels(corpus, y, ch09.FUNCTION_WORDS)
    draws = interpret.selectivity_over_controls(interpret.hidden_activations(model, X), X, labels)
    untrained = models.make_tiny_lm(len(corpus.vocab), seed=7)
    return {**draws, "one_draw": draws["selectivities"][0],
            "untrained_task": interpret.linear_probe(interpret.hidden_activations(untrained, X), labels),
            "ceiling": ch09.context_ceiling(X, labels), "n_contexts": len(X.unique(dim=0)),
            "hidden": model.hidden.out_features}


@exercise("ch09.selectivity")
def check_selectivity(answer):
    """Mean selectivity, over control seeds 0–4, of the probe for 'the next word is a function word' (skew-0.9 model)."""
    s = _selectivity()
    value = as_number(answer)
    tol = dict(rel=0.02, abs_tol=1e-3)
    if is_close(value, s["mean"], **tol):
        return True, (f"That is the mean selectivity: {s['mean']:+.3f}, but the single draws range from "
                      f"{min(s['selectivities']):+.3f} to {max(s['selectivities']):+.3f} (sd {s['sd']:.3f}), so "
                      "even its sign depends on the control's seed. With only "
                      f"{s['n_contexts']} distinct contexts and {s['hidden']} hidden units, a linear probe can fit "
                      "almost any labelling of the contexts, so this control task "
                      "cannot tell reading from memorising here. Compare the task accuracy instead: "
                      f"{s['task']:.1%} on the trained model, against {s['ceiling']:.1%}, the best any function of "
                      "the context can do (a few contexts are followed by both kinds of word), and "
                      f"{s['untrained_task']:.1%} on the untrained model. The trained features reach the ceiling; "
                      "the random ones do not.")
    if is_close(value, -s["mean"], **tol):
        return False, "Selectivity is task accuracy minus control-task accuracy, not the other way round."
    if is_close(value, s["one_draw"], **tol) or any(is_close(value, v, **tol) for v in s["selectivities"]):
        return False, ("That is one control draw's selectivity. Average over the draws with control seeds 0 to 4 "
                       "(interpret.selectivity_over_controls does this) and watch how much they differ.")
    if is_close(value, s["task"], **tol):
        return False, "That is the task probe's accuracy. Selectivity compares it with the control task's."
    return False, (f"{direction_hint(value, s['mean'])} Use interpret.selectivity_over_controls on the trained "
                   "model's hidden activations, with labels 1 where the next word is 'the', 'in' or ⟨end⟩, and "
                   "give its 'mean'.")


@exercise("ch09.probe_control", choices=("a", "b", "c"))
def check_probe_control(answer):
    """The place probe scores about as well on the control task as on the real one. What does that show?"""
    key = str(answer).strip().lower()
    if key in ("b", "control", "baseline"):
        return True, ("With few distinct contexts a linear probe can memorise which ones carry a label; the control "
                      "task measures how much of its accuracy that explains.")
    if key in ("a", "c"):
        return False, "Think about what a high accuracy on labels that mean nothing says about the probe itself."
    raise ValueError("answer 'a', 'b' or 'c'")
