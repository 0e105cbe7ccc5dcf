"""The chapters' checks catch what goes wrong on a learner's hardware, not only on the test machine.

Each test runs a chapter's own cells in this process (`chapter_cells.run_cells`) twice: as written, where
the chapter's check passes, and with the fix reverted or the hardware's behaviour emulated, where the same
check must fail. A check that cannot fail on the learner's machine would protect nobody.
"""

import pytest
import torch

from chapter_cells import chapter, failed_cell, run_cells
from course_utils import smoke

# --- 1. Mixed precision leaves an autocast wrapper on trainer.model (chapter 13) --------------------------

UNWRAP = "model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)"


@pytest.mark.parametrize("reverted", [False, True], ids=["as-written", "unwrap-removed"])
def test_sharing_chapter_reload_check_catches_the_autocast_wrapper(reverted, monkeypatch, tmp_path, fresh_accelerate_state):
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "bf16")
    monkeypatch.chdir(tmp_path)
    replace = {UNWRAP: "model = trainer.model  # the Trainer's model, still wrapped in bf16 autocast"} if reverted else {}
    run = lambda: run_cells(chapter("sharing_models"), stop_before="from course_utils import cards", replace=replace)  # noqa: E731
    if reverted:
        with pytest.raises(AssertionError, match="Tensor-likes are not close") as failure:
            run()
        assert failed_cell(failure.value).startswith("# Check: the saved folder is the trained model")
    else:
        namespace = run()
        assert namespace["trainer"].args.bf16  # the run really was in mixed precision
        assert not hasattr(namespace["model"], "_original_forward")  # and the wrapper is gone


# --- 6. A checkpoint stored in half precision (transformers 5 loads it as stored) ---------------------------

@pytest.fixture(scope="module")
def bf16_checkpoint(tmp_path_factory):
    """The tiny bert-base-uncased stand-in, saved in bfloat16 as many recent checkpoints are."""
    spec = smoke.TinyModel("google-bert/bert-base-uncased", "bert", "BertForMaskedLM", dtype="bfloat16")
    return smoke.build_model(spec, tmp_path_factory.mktemp("bf16-cache"))


def test_transformers_loads_a_bf16_checkpoint_in_bf16(bf16_checkpoint):
    from transformers import AutoModelForSequenceClassification

    assert AutoModelForSequenceClassification.from_pretrained(bf16_checkpoint, num_labels=2).dtype == torch.bfloat16


def test_bf16_weights_lose_fine_tuning_s_small_updates():
    """Why the chapters ask for float32 weights: one AdamW step at a fine-tuning learning rate (5e-5)
    changes every float32 weight, but rounds most bfloat16 weights back to where they were."""
    torch.manual_seed(0)
    start = torch.randn(10_000) * 0.05  # the size of BERT's weights
    grad = torch.randn(10_000)
    changed = {}
    for dtype in (torch.float32, torch.bfloat16):
        weight = torch.nn.Parameter(start.to(dtype).clone())
        weight.grad = grad.to(dtype)
        torch.optim.AdamW([weight], lr=5e-5, weight_decay=0.0).step()
        changed[dtype] = (weight.detach() != start.to(dtype)).float().mean().item()
    assert changed[torch.float32] == 1.0
    assert changed[torch.bfloat16] < 0.5, changed


@pytest.mark.parametrize("reverted", [False, True], ids=["as-written", "dtype-removed"])
def test_trainer_chapter_trains_float32_weights_even_from_a_bf16_checkpoint(reverted, bf16_checkpoint, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    replace = {'checkpoint = "google-bert/bert-base-uncased"': f"checkpoint = {str(bf16_checkpoint)!r}"}
    if reverted:
        replace["from_pretrained(checkpoint, num_labels=2, dtype=torch.float32)"] = "from_pretrained(checkpoint, num_labels=2)"
    run = lambda: run_cells(chapter("trainer"), stop_before="from transformers import Trainer\n\ntrainer = Trainer(",  # noqa: E731
                            replace=replace)
    if reverted:
        with pytest.raises(AssertionError) as failure:
            run()
        assert failed_cell(failure.value).startswith("# Check: the weights the optimizer will update are float32")
    else:
        assert run()["model"].dtype == torch.float32


# --- 4. On a TPU, model.to(device) replaces the parameters (chapter 9) --------------------------------------

@pytest.fixture
def parameters_replaced_by_to(monkeypatch):
    """What `model.to(xla_device)` does on a TPU, emulated on the CPU: `.to()` creates new parameter tensors
    instead of moving the old ones in place (PyTorch's own switch for this behaviour)."""
    monkeypatch.setattr(torch.__future__, "get_overwrite_module_params_on_conversion", lambda: True)


MOVE = "device = env.pick_device()\nmodel.to(device)\ndevice"
OPTIMIZER = "optimizer = AdamW(model.parameters(), lr=5e-5, weight_decay=0.0)  # the Trainer's defaults"


@pytest.mark.parametrize("reverted", [False, True], ids=["as-written", "moved-after-the-optimizer"])
def test_training_loop_chapter_optimizer_holds_the_parameters_the_model_trains(reverted, parameters_replaced_by_to, monkeypatch,
                                                                     tmp_path):
    monkeypatch.chdir(tmp_path)
    replace = {MOVE: "device = env.pick_device()\ndevice", OPTIMIZER: OPTIMIZER + "\nmodel.to(device)"} if reverted else {}
    run = lambda: run_cells(chapter("training_loop"), stop_before="for epoch in range(num_epochs)", replace=replace)  # noqa: E731
    if reverted:
        with pytest.raises(AssertionError) as failure:
            run()
        assert failed_cell(failure.value).startswith("# Check: the schedule starts at the peak learning rate")
    else:
        run()
