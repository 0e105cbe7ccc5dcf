"""environment.mixed_precision picks bf16 only where the GPU computes in bf16, not where it merely emulates it."""

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
