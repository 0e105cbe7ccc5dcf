"""The chat model's stand-in behaves like the real checkpoint where the chapters rely on it.

The smoke cache (built by conftest.py) holds a tiny random model under Qwen/Qwen2.5-0.5B-Instruct: saved in
bfloat16 like the real one, with a ChatML chat template, turn markers that are single special tokens, and a
generation config that stops at the end of a turn.
"""

import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from course_utils import smoke

CHAT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there!"},
            {"role": "assistant", "content": "Hi."}, {"role": "user", "content": "안녕하세요?"}]


def test_every_stand_in_is_saved_in_its_dtype(tmp_path):
    for spec in smoke.MODELS:
        if spec.model_id in (CHAT_MODEL, "google-bert/bert-base-uncased"):
            folder = smoke.build_model(spec, tmp_path)
            config = json.loads((folder / "config.json").read_text())
            assert config["dtype"] == spec.dtype, spec.model_id
    assert {m.model_id: m.dtype for m in smoke.MODELS}[CHAT_MODEL] == "bfloat16"


def test_chat_model_loads_in_bfloat16_like_the_real_checkpoint():
    model = AutoModelForCausalLM.from_pretrained(CHAT_MODEL)  # transformers 5: dtype="auto" by default
    assert model.dtype == torch.bfloat16


def test_chat_template_renders_chatml_with_a_generation_prompt():
    tokenizer = AutoTokenizer.from_pretrained(CHAT_MODEL)
    prompt = tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    turns = prompt.split("<|im_end|>\n")
    assert [t.split("\n")[0] for t in turns[:-1]] == [f"<|im_start|>{m['role']}" for m in MESSAGES]
    assert [t.split("\n", 1)[1] for t in turns[:-1]] == [m["content"] for m in MESSAGES]
    assert turns[-1] == "<|im_start|>assistant\n"
    without_system = tokenizer.apply_chat_template(MESSAGES[1:], tokenize=False)
    assert without_system.startswith("<|im_start|>system\n"), "a default system message when none is given"


def test_turn_markers_are_single_special_tokens_and_end_generation():
    tokenizer = AutoTokenizer.from_pretrained(CHAT_MODEL)
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert tokenizer("<|im_start|>user")["input_ids"][0] == start
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.decode([start, end], skip_special_tokens=True) == ""
    generation = AutoModelForCausalLM.from_pretrained(CHAT_MODEL).generation_config
    assert end in generation.eos_token_id and generation.pad_token_id == tokenizer.pad_token_id
