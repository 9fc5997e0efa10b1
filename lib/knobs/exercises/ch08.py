"""Chapter 8 exercises: counting LoRA's trainable parameters, and what forgetting means."""
from knobs.exercises.checker import direction_hint, exercise, is_close, multiple_choice
from knobs.lora import gpt2_lora_count, lora_parameter_count
from knobs.models import GPT2Config


@exercise("ch08.lora_count")
def check_lora_count(answer):
    """Trainable numbers of a rank-8 adapter on a 768 x 3072 layer (GPT-2's MLP expansion)."""
    expected = lora_parameter_count(768, 3072, 8)
    if is_close(answer, expected, rel=0):
        return True, "A is rank × in, B is out × rank: tiny next to in × out."
    if answer == 768 * 3072:
        return False, "That is the full matrix. LoRA trains two thin matrices instead."
    if answer == 8 * 768 or answer == 8 * 3072:
        return False, "You counted one of the two adapter matrices; there are two, A and B."
    return False, direction_hint(answer, expected) + " Count A (rank × in) and B (out × rank)."


@exercise("ch08.gpt2_fraction")
def check_gpt2_fraction(answer):
    """Percent of GPT-2 small's parameters trained by rank-4 LoRA on attn_qkv and attn_proj of every block."""
    from knobs.models import count_parameters, make_gpt2

    expected = 100 * gpt2_lora_count(GPT2Config(), rank=4) / count_parameters(make_gpt2()).total
    if is_close(answer, expected, rel=0.02):
        return True, "Well under one percent of the model trains, yet it adapts."
    if is_close(answer, expected / 100, rel=0.02):
        return False, "Give a percentage (0–100), not a fraction."
    return False, direction_hint(answer, expected) + " Use gpt2_lora_count and the tied GPT-2 total."


NEVER_WRITES = "Which strategy never writes to a pretrained tensor?"
check_forgetting = multiple_choice(
    "ch08.forgetting", "Which strategy leaves the original model's predictions exactly recoverable?", right="LoRA",
    feedback={"from scratch": NEVER_WRITES, "full fine-tune": NEVER_WRITES, "freeze embeddings": NEVER_WRITES,
              "output layer only": "The embeddings and hidden layer are safe, but the output layer itself was overwritten.",
              "LoRA": "Switch the adapters off and every pretrained number is exactly as it was."})
