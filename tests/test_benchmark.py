"""The padding benchmark: both recipes feed the same reviews; the script prints `speedup: N.Nx` last."""

import re
from pathlib import Path

import pytest
import torch

from course_utils import benchmark
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ["아 더빙.. 진짜 짜증나네요 목소리", "재밌어요", "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나",
           "너무재밓었다그래서보는것을추천한다", "교도소 이야기구먼 ..솔직히 재미는 없다..평점 조정", "최고",
           "배우들의 연기가 좋았다", "스토리가 엉망이다"]
LABELS = [0, 1, 1, 0, 0, 1, 1, 0]


@pytest.fixture(scope="module")
def tokenizer():
    return benchmark.train_tokenizer(REVIEWS * 3, vocab_size=300)


@pytest.fixture(scope="module")
def tiny_config(tokenizer):
    return benchmark.bench_config(len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=64)


def test_the_tokenizer_keeps_hangul_syllables_and_caps_at_512(tokenizer):
    assert tokenizer.model_max_length == 512
    tokens = tokenizer.tokenize("재밌어요")
    assert tokens and all(not ("\u1100" <= ch <= "\u11ff") for t in tokens for ch in t)  # no jamo


def test_the_tutorial_recipe_pads_every_review_to_512(tokenizer):
    loader = benchmark.padded_loader(REVIEWS, LABELS, tokenizer, batch_size=4)
    batches = list(loader)
    assert [b["input_ids"].shape for b in batches] == [torch.Size([4, 512])] * 2
    assert sorted(torch.cat([b["labels"] for b in batches]).tolist()) == sorted(LABELS)


@pytest.mark.parametrize("group", [False, True])
def test_the_course_recipe_pads_each_batch_to_its_longest_review(tokenizer, group):
    loader = benchmark.dynamic_loader(REVIEWS, LABELS, tokenizer, batch_size=4, group_by_length=group)
    batches = list(loader)
    assert sum(len(b["labels"]) for b in batches) == len(REVIEWS)
    for b in batches:
        assert b["input_ids"].shape[1] == int(b["attention_mask"].sum(dim=1).max()) < 512


def test_unknown_recipe_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="Unknown recipe"):
        benchmark.make_loader("pad to 1024", REVIEWS, LABELS, tokenizer, 4)


def test_compare_measures_every_recipe_on_the_same_reviews(tokenizer, tiny_config):
    results = benchmark.compare(REVIEWS, LABELS, tokenizer, tiny_config, batch_size=4)
    assert [r["recipe"] for r in results] == list(benchmark.RECIPES)
    by_recipe = {r["recipe"]: r for r in results}
    assert all(r["examples"] == len(REVIEWS) and r["examples_per_s"] > 0 for r in results)
    assert by_recipe["pad to 512"]["tokens_per_example"] == 512
    assert by_recipe["dynamic padding"]["tokens_per_example"] < 100
    for r in results:
        assert r["peak_memory_mb"] is None or r["peak_memory_mb"] >= 0
    assert benchmark.speedup(results) == pytest.approx(
        by_recipe["dynamic padding"]["examples_per_s"] / by_recipe["pad to 512"]["examples_per_s"])
    axes = benchmark.plot(results)
    assert len(axes) == 2


def test_the_script_prints_the_speedup_last(tmp_path, capsys):
    lines = ["id\tdocument\tlabel"] + [f"{i}\t{r}\t{y}" for i, (r, y) in enumerate(zip(REVIEWS * 2, LABELS * 2))]
    (tmp_path / "ratings_train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = load_script(ROOT / "benchmarks" / "padding.py", "padding_benchmark")  # its main(), in this process: a new one would spend seconds importing torch
    code = script.main(["--data-dir", str(tmp_path), "--num-examples", "4", "--batch-size", "4",
                        "--recipes", "pad to 512", "dynamic padding"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"speedup: \d+\.\dx", out[-1]), out[-1]
    assert any("pad to 512" in line and "examples/s" in line for line in out)
