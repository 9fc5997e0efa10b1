"""Chapter 10 exercises: count LoRA's parameters from a model's layers, the bytes of a 4-bit GPT-2, Q4_0 by hand.

Each check accepts the answer for whichever model the learner loaded (GPT-2 small or the stand-in), computed
here from the configurations and the formats' definitions, never stored.
"""
import torch

from knobs import gpt, lora, pretrained
from knobs import weightonly as W
from knobs.chapters import ch10
from knobs.exercises.checker import NotAnswered, as_number, exercise

# ---- 1. LoRA's trainable parameters, read from the layers -------------------------------------------------------


def _models():
    """The stand-in, and a small random GPT-2 of other sizes (so a number typed in for one model fails the other)."""
    torch.manual_seed(10)
    other = gpt.GPT(gpt.GPTConfig(vocab_size=50, n_positions=16, n_embd=48, n_layer=3, n_head=4))
    return [pretrained.load_standin().model, other]


@exercise("ch10.lora")
def check_lora(answer):
    if not callable(answer):
        return False, "Give a function: answer_lora = lora_trainable, where lora_trainable(model, rank) returns a number."
    for model in _models():
        c = model.config
        for rank in (1, 8):
            got = answer(model, rank)
            if got is None:
                return False, "Your function returned None: `return` the count."
            if got is ...:
                raise NotAnswered("Write the body of lora_trainable, then run the cell again.")
            got = as_number(got, "the count")
            right = lora.gpt2_lora_count(c, rank)
            if got == right:
                continue
            per_block = right // c.n_layer
            hints = {
                lora.gpt2_lora_count(c, rank, ("attn_qkv",)): "Only c_attn: the attention block has a second "
                                                               "projection, attn.c_proj, that gets an adapter too.",
                lora.gpt2_lora_count(c, rank, ("attn_proj",)): "Only attn.c_proj: c_attn (queries, keys and values in "
                                                               "one matrix) gets an adapter too.",
                lora.gpt2_lora_count(c, rank, ("attn_qkv", "attn_proj", "mlp_fc", "mlp_proj")):
                    "That counts the MLP's matrices too; the exercise puts adapters on the attention projections only "
                    "(their names contain attn.).",
                per_block: "That is one block's adapters: every block has its own attention projections.",
                c.n_layer * (3 * c.n_embd * c.n_embd + c.n_embd * c.n_embd): "That is the size of the full matrices "
                                                                              "(in × out), which LoRA freezes.",
                c.n_layer * rank * (c.n_embd + c.n_embd): "Each adapter has A (rank × in) and B (out × rank); "
                                                          "c_attn's out is 3 × n_embd, not n_embd.",
            }
            for wrong, hint in hints.items():
                if got == wrong:
                    return False, hint
            if got == right + c.n_layer * 4 * c.n_embd:
                return False, "The biases stay frozen: LoRA adds A and B beside a weight matrix and trains only those."
            if got == right / 2 or got == right // 2:
                return False, "You counted one of the two adapter matrices: each adapter is A (rank × in) plus B (out × rank)."
            side = "too high" if got > right else "too low"
            return False, (f"For a {c.n_layer}-layer model with n_embd {c.n_embd} at rank {rank} your count is {side}. "
                           "For every attention projection: rank × (in_features + out_features).")
    return True, ("That is what knobs.lora.gpt2_lora_count computes from the configuration: a sliver of the model, "
                  "the only part fine-tuning would train.")


# ---- 2. the bytes of a 4-bit model ------------------------------------------------------------------------------

def _right_bytes() -> dict[str, float]:
    """The Q4_0 recipe's bytes for the stand-in and for GPT-2 small (from their configurations)."""
    configs = {"stand-in": pretrained.load_standin().model.config, "GPT-2 small": gpt.GPTConfig()}
    return {name: sum(ch10.storage_bytes(c, "Q4_0").values()) for name, c in configs.items()}


def _mistakes(c) -> dict[float, str]:
    parts = ch10.parameter_parts(c)
    m, e, v = parts["block matrices"], parts["embeddings"], parts["vectors"]
    right = sum(ch10.storage_bytes(c, "Q4_0").values())
    return {
        m * 0.5 + 2 * e + 4 * v: "The 4-bit codes are not all: every block of 32 weights also stores an fp16 scale.",
        m * 4.5 / 8 + 0.5625 * e + 4 * v: "The recipe keeps the embedding table in fp16: it is also the output layer.",
        m * 4.5 / 8 + 4 * e + 4 * v: "The embeddings are stored in fp16 (2 bytes each), not fp32.",
        m * 4.5 / 8 + 2 * e + 2 * v: "Biases and layer norms stay in fp32 (4 bytes each).",
        right + 2 * c.vocab_size * c.n_embd: "The tied output layer is the embedding table: count it once "
                                             "(model.parameters() lists it once; state_dict() lists it twice).",
        (m + e + v) * 4.5 / 8: "Only the block matrices are in Q4_0; embeddings are fp16 and vectors fp32.",
        8 * right: "That is bits; the question asks for bytes.",
        (m + e + v) * 0.5: "That is every parameter at exactly 4 bits, the '8× smaller' claim. Q4_0 also stores a "
                           "scale per 32 weights, and the recipe keeps embeddings in fp16 and vectors in fp32.",
    }


@exercise("ch10.memory")
def check_memory(answer):
    value = as_number(answer, "the number of bytes")
    rights = _right_bytes()
    for name, right in rights.items():
        if abs(value - right) < 0.5:
            return True, (f"Right for {name}: a little over an eighth of fp32 for the block matrices, but the fp16 "
                          "embedding table keeps the whole model well above an eighth.")
    for c in (pretrained.load_standin().model.config, gpt.GPTConfig()):
        for wrong, hint in _mistakes(c).items():
            if abs(value - wrong) < 0.5:
                return False, hint
    if any(abs(value / right - 1) < 0.01 for right in rights.values()):
        return False, "Close, but not exact: the bytes are a whole number here. Count each part exactly."
    return False, ("Add up the parts: block matrices at 18 bytes per 32 weights, embedding tables at 2 bytes per "
                   "number, biases and layer norms at 4.")


# ---- 3. Q4_0 by hand ---------------------------------------------------------------------------------------------

def _test_blocks() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    blocks = [torch.randn(32, generator=g) * 0.05 for _ in range(3)]
    positive = torch.randn(32, generator=g) * 0.02
    positive[5] = 0.09  # the largest weight is positive: d is negative
    negative = torch.randn(32, generator=g) * 0.02
    negative[7] = -0.11
    halves = torch.zeros(32)
    halves[:16] = (torch.arange(-8, 8) + 0.5) * 0.125
    halves[16] = -1.0  # d = 0.125: the others sit exactly between two codes
    return blocks + [positive, negative, halves]


@exercise("ch10.q4_0")
def check_q4_0(answer):
    if not callable(answer):
        return False, "Give a function: answer_q4_0 = my_q4_0, where my_q4_0(block) returns the 32 decoded weights."
    for block in _test_blocks():
        got = answer(block.clone())
        if got is None:
            return False, "Your function returned None: `return` the decoded block."
        if got is ...:
            raise NotAnswered("Write the body of my_q4_0, then run the cell again.")
        got = torch.as_tensor(got, dtype=torch.float32).reshape(-1)
        if got.numel() != 32:
            return False, f"Return the 32 decoded weights of the block, one per input weight (got {got.numel()} numbers)."
        right = W.fake_quantize_blocks(block, "Q4_0")
        if torch.allclose(got, right, rtol=0, atol=1e-7):
            continue
        amax = float(block.abs().max())
        m = float(block[block.abs().argmax()])
        if bool((got == got.round()).all()) and -8 <= float(got.min()) and float(got.max()) <= 15:
            return False, "Those look like the integer codes: decode them, d × (q − 8)."
        symmetric = torch.round(block / (amax / 7)).clamp(-7, 7) * (amax / 7)
        if torch.allclose(got, symmetric, atol=1e-6) or torch.allclose(got, symmetric.half().float(), atol=1e-6):
            return False, ("That is chapter 6's symmetric int4 (codes −7…7, d = max|w| / 7). Q4_0 uses all 16 codes: "
                           "d = m / −8, with m the weight of largest magnitude, sign kept.")
        if m > 0 and abs(float(got[block.abs().argmax()]) - 7 / 8 * m) < 1e-3 * amax:
            return False, ("Your largest weight came back as 7/8 of itself. In Q4_0 the sign of the largest weight goes "
                           "into d = m / −8, so that weight always lands on code 0 and decodes exactly to d × (0 − 8) = m.")
        unrounded = (block / (m / -8) + 8.5).floor().clamp(0, 15).sub(8) * (m / -8)
        if torch.allclose(got, unrounded, atol=1e-7):
            return False, "Almost: ggml stores d in fp16. Decode with d rounded to fp16 (torch.float16), as the file holds it."
        d16 = torch.tensor(m / -8).half().float()
        half_even = torch.round(block / (m / -8) + 8).clamp(0, 15).sub(8) * d16
        if torch.allclose(got, half_even, atol=1e-7):
            return False, ("A few weights land on the next code. Q4_0 rounds halves up: q = floor(w / d + 8.5), "
                           "clamped to 0…15 (torch.round sends halves to the even code).")
        return False, ("Not Q4_0 yet. d = m / −8 (m: the weight of largest |w|, sign kept); q = floor(w / d + 8.5), "
                       "at most 15; decoded weight = d (rounded to fp16) × (q − 8).")
    return True, "Bit for bit what llama.cpp writes: 16 codes and one fp16 scale per 32 weights, 4.5 bits per weight."
