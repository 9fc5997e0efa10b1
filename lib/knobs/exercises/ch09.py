"""Chapter 9 exercises: compute the bias score, read an output row, judge a mitigation."""
from knobs.exercises.checker import exercise, is_close, multiple_choice


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


@exercise("ch09.probe_control", choices=("a", "b", "c"))
def check_probe_control(answer):
    """Why train the same probe on an untrained model's activations?"""
    key = str(answer).strip().lower()
    if key in ("b", "control", "baseline"):
        return True, "A probe can find patterns even in random features; the control tells you how much."
    if key in ("a", "c"):
        return False, "Think about what a high probe accuracy on random features would mean."
    raise ValueError("answer 'a', 'b' or 'c'")
