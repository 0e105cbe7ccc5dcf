"""Chapter 2 computes attention by hand and checks it against the model. Its checks must be able to fail.

The test runs the chapter's own cells (found by their cell ids), not a copy of them, on tiny random models built
here: once as written, where every check passes, then with one step of the computation removed (the scaling,
the padding mask, the causal mask), where the chapter's check cells must raise. One source of truth: edit the
chapter's lines and this test follows them; rename or reword a line it removes and it says so.
"""

import math
import traceback
from pathlib import Path

import nbformat
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, BertConfig, GPT2Config

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_how_transformers_work.ipynb"
BERT_CELLS = ["attn-bert-run", "attn-bert-input", "split-heads", "attn-qkv", "attn-scores", "attn-check-probs",
              "attn-rest-of-layer", "attn-check-layer"]
GPT2_CELLS = ["split-heads", "causal-run", "causal-scores", "causal-check"]

SCALING = (" / math.sqrt(head_dim)", "")
PADDING_MASK = ('scores = scores.masked_fill(padding, float("-inf"))', "pass")
CAUSAL_MASK = ('scores = scores.masked_fill(future, float("-inf"))', "pass")


def chapter_cells(ids):
    cells = {cell.get("id"): cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells}
    missing = [i for i in ids if i not in cells]
    assert not missing, f"{NOTEBOOK.name} lost the cells {missing}: update this test with the chapter"
    return {i: cells[i] for i in ids}


def without(cells, cell_id, step):
    old, new = step
    assert cells[cell_id].count(old) == 1, f"cell {cell_id} no longer holds {old!r} once: update this test"
    return {**cells, cell_id: cells[cell_id].replace(old, new)}


def failing_cell(error):
    """The chapter cell whose line raised `error`."""
    return traceback.extract_tb(error.__traceback__)[-1].filename.split(":")[-1]


def run(cells, namespace):
    with torch.no_grad():
        for cell_id, source in cells.items():
            exec(compile(source, f"{NOTEBOOK.name}:{cell_id}", "exec"), namespace)  # noqa: S102 - the course's own notebook
    return namespace


def tiny_bert_namespace():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    bert = AutoModel.from_config(config, attn_implementation="eager").eval()
    input_ids = torch.randint(5, 50, (2, 7))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, 4:] = 0  # the first sequence is padded, as in the chapter
    input_ids[0, 4:] = config.pad_token_id
    return {"torch": torch, "math": math, "bert": bert,
            "batch": {"input_ids": input_ids, "attention_mask": attention_mask}}


def tiny_gpt2_namespace():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_embd=32, n_layer=2, n_head=2, n_positions=64, bos_token_id=0,
                        eos_token_id=0)
    clm_model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    return {"torch": torch, "math": math, "clm_model": clm_model,
            "gpt2_inputs": {"input_ids": torch.randint(0, 50, (1, 9))}}


def test_bert_attention_by_hand_passes_its_checks_as_written():
    namespace = run(chapter_cells(BERT_CELLS), tiny_bert_namespace())
    assert namespace["padding"].any(), "the batch has padding, so the mask is exercised"
    assert namespace["probs"].shape == (2, 2, 7, 7)


def test_gpt2_causal_attention_by_hand_passes_its_checks_as_written():
    namespace = run(chapter_cells(GPT2_CELLS), tiny_gpt2_namespace())
    assert namespace["causal_probs"].shape == (1, 2, 9, 9)


@pytest.mark.parametrize("step", [SCALING, PADDING_MASK], ids=["no scaling", "no padding mask"])
def test_bert_check_fails_without_a_step(step):
    cells = without(chapter_cells(BERT_CELLS), "attn-scores", step)
    with pytest.raises(AssertionError) as failure:
        run(cells, tiny_bert_namespace())
    assert failing_cell(failure.value) == "attn-check-probs"  # the comparison with the model's own attention


@pytest.mark.parametrize("step", [SCALING, CAUSAL_MASK], ids=["no scaling", "no causal mask"])
def test_gpt2_check_fails_without_a_step(step):
    cells = without(chapter_cells(GPT2_CELLS), "causal-scores", step)
    with pytest.raises(AssertionError) as failure:
        run(cells, tiny_gpt2_namespace())
    assert failing_cell(failure.value) == "causal-check"

