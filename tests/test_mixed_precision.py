"""environment.mixed_precision picks bf16 only where the GPU computes in bf16, not where it merely emulates it."""

import sys

import pytest
import torch

from course_utils import environment as env


def _fake_gpu(monkeypatch, native_bf16: bool):
    """A CUDA GPU as torch describes it: every recent GPU can emulate bf16, only Ampere+ has it natively."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: native_bf16 or including_emulation)


def test_t4_gets_fp16_although_torch_says_it_can_emulate_bf16(monkeypatch):
    _fake_gpu(monkeypatch, native_bf16=False)
    assert torch.cuda.is_bf16_supported()  # what a real T4 answers by default
    assert env.mixed_precision() == {"bf16": False, "fp16": True}


def test_ampere_or_newer_gets_bf16(monkeypatch):
    _fake_gpu(monkeypatch, native_bf16=True)
    assert env.mixed_precision() == {"bf16": True, "fp16": False}


def test_cpu_gets_full_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert env.mixed_precision() == {"bf16": False, "fp16": False}


# --- COURSE_MIXED_PRECISION: forcing a precision, to run a GPU's code path elsewhere ----------------------

def test_forced_bf16_on_a_cpu_runs_the_trainer_s_mixed_precision_path(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "bf16")
    flags = env.mixed_precision()
    assert flags == {"bf16": True, "fp16": False, "use_cpu": True}
    assert env.precision_name(flags) == "bf16"
    # TrainingArguments accepts these flags on a CPU (without use_cpu it refuses bf16 there).
    from transformers import TrainingArguments

    args = TrainingArguments(str(tmp_path), report_to="none", **flags)
    assert args.bf16 and not args.fp16


def test_forced_precision_overrides_a_gpu_s_choice(monkeypatch):
    _fake_gpu(monkeypatch, native_bf16=True)
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "no")
    assert env.mixed_precision() == {"bf16": False, "fp16": False}
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "FP16")
    assert env.mixed_precision() == {"bf16": False, "fp16": True}


@pytest.mark.parametrize("value, message", [
    ("fp16", "needs a GPU"),  # Accelerate would silently train in fp32 on a CPU
    ("float16", "not one of no, bf16, fp16"),
])
def test_forcing_what_cannot_run_is_a_clear_error(monkeypatch, value, message):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setenv("COURSE_MIXED_PRECISION", value)
    with pytest.raises(ValueError, match=message):
        env.mixed_precision()


def test_unset_or_empty_lets_the_hardware_choose(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "")
    assert env.forced_precision() is None
    assert env.mixed_precision() == {"bf16": False, "fp16": False}


# --- TPU (XLA): seeding and step marking, with a stand-in for torch_xla -----------------------------------

@pytest.fixture
def fake_torch_xla(monkeypatch):
    """Just enough of torch_xla to see what the course calls on a TPU runtime."""
    import importlib.util
    import types

    calls = []
    torch_xla = types.ModuleType("torch_xla")
    torch_xla.sync = lambda: calls.append(("sync",))
    core = types.ModuleType("torch_xla.core")
    xla_model = types.ModuleType("torch_xla.core.xla_model")
    xla_model.set_rng_state = lambda seed, device=None: calls.append(("set_rng_state", seed))
    torch_xla.core, core.xla_model = core, xla_model
    monkeypatch.setitem(sys.modules, "torch_xla", torch_xla)
    monkeypatch.setitem(sys.modules, "torch_xla.core", core)
    monkeypatch.setitem(sys.modules, "torch_xla.core.xla_model", xla_model)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == "torch_xla" else real_find_spec(name, *a))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    return calls


def test_set_seed_seeds_the_xla_generator_on_a_tpu(fake_torch_xla):
    assert env.device_kind() == "xla"
    env.set_seed(1234)
    assert ("set_rng_state", 1234) in fake_torch_xla


def test_mark_step_runs_the_xla_graph_on_a_tpu_and_does_nothing_elsewhere(fake_torch_xla):
    env.mark_step(torch.device("cpu"))
    assert fake_torch_xla == []
    env.mark_step(torch.device("xla"))
    assert fake_torch_xla == [("sync",)]
