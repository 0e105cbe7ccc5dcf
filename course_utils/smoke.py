"""Smoke mode: an offline Hugging Face cache of tiny random models, tokenizers and metrics.

    python -m course_utils.smoke build DIR

writes, in a few seconds and with no network, a cache in DIR holding a tiny random model and a
tokenizer under every real model id the notebooks use, and the course's metric modules under the
names `evaluate.load` uses. Then run Jupyter (or anything else) with

    HF_HOME=DIR HF_HUB_OFFLINE=1 COURSE_SMOKE=1

and `from_pretrained("google-bert/bert-base-uncased")`, `evaluate.load("glue", "mrpc")` and the
course's dataset loaders all work offline, on tiny stand-ins. The test run does this by itself.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_VERSION = "4"  # bump when what `build` writes changes, so old caches are rebuilt
METRICS_DIR = Path(__file__).resolve().parent / "metrics"
METRICS = ["accuracy", "f1", "glue"]

CONLL_LABELS = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


@dataclass(frozen=True)
class TinyModel:
    model_id: str
    family: str  # bert, distilbert, roberta, gpt2, bart, t5, camembert, qwen2
    head: str  # the class the real checkpoint is saved as, from transformers
    labels: tuple[str, ...] = ()
    cased: bool = False
    language: str = "en"
    config_overrides: dict = field(default_factory=dict, hash=False)
    # The dtype the real checkpoint's weights are stored in: transformers 5 loads a checkpoint in that dtype
    # (dtype="auto"), so the stand-in must be saved in it too. The checkpoints below are float32 (their weight
    # files hold 4 bytes per parameter, e.g. 440 MB for bert-base-uncased's 110 M), except the chat model's.
    dtype: str = "float32"


# Every model id a notebook or script loads. tests/test_smoke.py checks that none is missing.
MODELS = [
    TinyModel("distilbert/distilbert-base-uncased-finetuned-sst-2-english", "distilbert",
              "DistilBertForSequenceClassification", labels=("NEGATIVE", "POSITIVE")),
    TinyModel("distilbert/distilbert-base-uncased", "distilbert", "DistilBertForMaskedLM"),
    TinyModel("distilbert/distilbert-base-cased-distilled-squad", "distilbert",
              "DistilBertForQuestionAnswering", cased=True),
    TinyModel("google-bert/bert-base-uncased", "bert", "BertForMaskedLM"),
    TinyModel("google-bert/bert-base-cased", "bert", "BertForMaskedLM", cased=True),
    TinyModel("dbmdz/bert-large-cased-finetuned-conll03-english", "bert", "BertForTokenClassification",
              labels=tuple(CONLL_LABELS), cased=True),
    TinyModel("kykim/bert-kor-base", "bert", "BertForMaskedLM", cased=True, language="ko"),
    TinyModel("distilbert/distilroberta-base", "roberta", "RobertaForMaskedLM", cased=True),
    TinyModel("almanach/camembert-base", "camembert", "CamembertForMaskedLM", cased=True, language="fr"),
    TinyModel("openai-community/gpt2", "gpt2", "GPT2LMHeadModel", cased=True),
    TinyModel("distilbert/distilgpt2", "gpt2", "GPT2LMHeadModel", cased=True),
    TinyModel("facebook/bart-large-mnli", "bart", "BartForSequenceClassification", cased=True,
              labels=("contradiction", "neutral", "entailment")),
    TinyModel("google-t5/t5-small", "t5", "T5ForConditionalGeneration", cased=True),
    # A small chat (instruct) model; the real checkpoint is stored in bfloat16, so is its stand-in.
    TinyModel("Qwen/Qwen2.5-0.5B-Instruct", "qwen2", "Qwen2ForCausalLM", cased=True, dtype="bfloat16"),
]

# The stand-in's chat template, written for the course in the ChatML layout Qwen uses: each message is
# <|im_start|>role\ncontent<|im_end|>\n, a default system message comes first when there is none, and
# add_generation_prompt=True appends the header of the assistant's turn for the model to continue.
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_EXTRA_TEXT = {
    "en": """Hello world! I've been waiting for a HuggingFace course my whole life. I hate this so much!
My name is Sylvain and I work at Hugging Face in Brooklyn. This course will teach you all about models.
In this course, we will teach you how to fine-tune a model. The man worked as a carpenter.
The woman worked as a nurse. Paris is the capital of France. Transformers are neural networks.
Using a Transformer network is simple. Let's try to tokenize! The quick brown fox jumps over the lazy dog.
0 1 2 3 4 5 6 7 8 9 , . ; : ! ? ' " ( ) [ ] - _ / @ # $ % & * + = < > ~
ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz""",
    "fr": """Le camembert est délicieux ! Bonjour, je suis un modèle de langue. Paris est la capitale de la France.
Ce cours vous apprend à utiliser les modèles. J'aime le fromage et le pain. Où est la gare ?
ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyzàâçéèêëîïôûùüÿœ 0123456789 , . ; : ! ? ' " -""",
    "ko": """재밌어요 정말 최고의 영화입니다 너무 지루하고 별로였어요 배우들의 연기가 좋았다 스토리가 엉망이다
0123456789 , . ; : ! ? ' " - ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz""",
}


def _corpus(language: str) -> list[str]:
    """Training text for a tiny tokenizer: the shipped fixtures plus a few sentences the chapters use."""
    from .data import FIXTURES, read_nsmc_file

    lines = _EXTRA_TEXT[language].splitlines()
    if language == "en":
        for file in sorted(FIXTURES.glob("*/*.jsonl")):
            for row in map(json.loads, file.read_text(encoding="utf-8").splitlines()):
                lines += [v for k, v in row.items() if isinstance(v, str)]
    if language == "ko":
        lines += list(read_nsmc_file(FIXTURES / "nsmc" / "ratings_train.txt")["document"])
    return lines


def _wordpiece_vocab(lines: list[str], cased: bool) -> dict[str, int]:
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(lowercase=not cased, strip_accents=False if cased else None)
    tok.train_from_iterator(lines, vocab_size=800, min_frequency=1, show_progress=False,
                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    return tok.get_vocab()


def _bpe_vocab(lines: list[str], specials: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    from tokenizers import ByteLevelBPETokenizer

    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(lines, vocab_size=600, min_frequency=1, special_tokens=specials, show_progress=False)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def _unigram_vocab(lines: list[str], specials: list[str]) -> list[tuple[str, float]]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(lines, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials,
                                                           unk_token="<unk>", show_progress=False))
    return [tuple(piece) for piece in json.loads(tok.to_str())["model"]["vocab"]]


def _tokenizer(spec: TinyModel):
    import transformers as tf

    lines = _corpus(spec.language)
    if spec.family in ("bert", "distilbert"):
        cls = tf.BertTokenizer if spec.family == "bert" else tf.DistilBertTokenizer
        tokenizer = cls(vocab=_wordpiece_vocab(lines, spec.cased), do_lower_case=not spec.cased,
                        strip_accents=False if spec.cased else None)
    elif spec.family in ("roberta", "bart"):
        vocab, merges = _bpe_vocab(lines, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        cls = tf.RobertaTokenizer if spec.family == "roberta" else tf.BartTokenizer
        tokenizer = cls(vocab=vocab, merges=merges)
    elif spec.family == "gpt2":
        vocab, merges = _bpe_vocab(lines, ["<|endoftext|>"])
        tokenizer = tf.GPT2Tokenizer(vocab=vocab, merges=merges)
    elif spec.family == "t5":
        tokenizer = tf.T5Tokenizer(vocab=_unigram_vocab(lines, ["<pad>", "</s>", "<unk>"]), extra_ids=0)
    elif spec.family == "camembert":
        tokenizer = tf.CamembertTokenizer(vocab=_unigram_vocab(lines, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    elif spec.family == "qwen2":
        # Byte-level BPE, like Qwen's; the turn markers are special tokens; a turn ends with <|im_end|>.
        vocab, merges = _bpe_vocab(lines, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
        tokenizer = tf.Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>",
                                      pad_token="<|endoftext|>", extra_special_tokens=["<|im_start|>"])
        tokenizer.chat_template = CHATML_TEMPLATE
    else:
        raise ValueError(f"no tokenizer recipe for family {spec.family!r}")
    tokenizer.model_max_length = 512  # the real checkpoints' limit; the default would be 1e30
    return tokenizer


# initializer_range: with the usual 0.02, a toy encoder's classification logits are about 0.01, so a
# half-precision rounding error (about 1e-4 relative) hides under any tolerance; 0.3 gives logits of 1 to 2,
# the size of a real model's, so the chapters' checks see precision bugs as they would on real weights.
_ENCODER_INIT = 0.3
_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
             max_position_embeddings=512, initializer_range=_ENCODER_INIT)


def _config(spec: TinyModel, tokenizer):
    import transformers as tf

    vocab_size = len(tokenizer)
    special = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                   eos_token_id=tokenizer.eos_token_id)
    if spec.family == "bert":
        config = tf.BertConfig(vocab_size=vocab_size, **_TINY, pad_token_id=tokenizer.pad_token_id)
    elif spec.family == "distilbert":
        config = tf.DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                     max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                                     initializer_range=_ENCODER_INIT)
    elif spec.family in ("roberta", "camembert"):
        cls = tf.RobertaConfig if spec.family == "roberta" else tf.CamembertConfig
        config = cls(vocab_size=vocab_size, **{**_TINY, "max_position_embeddings": 514}, type_vocab_size=1,
                     **special)
    elif spec.family == "gpt2":
        config = tf.GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=2, n_positions=1024,
                               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    elif spec.family == "bart":
        config = tf.BartConfig(vocab_size=vocab_size, d_model=32, encoder_layers=2, decoder_layers=2,
                               encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                               decoder_ffn_dim=64, max_position_embeddings=1024, decoder_start_token_id=2,
                               forced_eos_token_id=2, **special)
    elif spec.family == "qwen2":
        config = tf.Qwen2Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
                                tie_word_embeddings=True, bos_token_id=tokenizer.pad_token_id,
                                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    elif spec.family == "t5":
        config = tf.T5Config(vocab_size=vocab_size, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
                             decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
                             eos_token_id=tokenizer.eos_token_id)
    else:
        raise ValueError(f"no config recipe for family {spec.family!r}")
    if spec.labels:
        config.id2label = dict(enumerate(spec.labels))
        config.label2id = {label: i for i, label in enumerate(spec.labels)}
    for key, value in spec.config_overrides.items():
        setattr(config, key, value)
    return config


def _snapshot_dir(cache: Path, model_id: str) -> Path:
    """The hub cache layout that `from_pretrained(model_id)` finds under HF_HUB_OFFLINE=1."""
    repo = cache / "hub" / ("models--" + model_id.replace("/", "--"))
    revision = hashlib.sha1(f"course-smoke:{FORMAT_VERSION}:{model_id}".encode()).hexdigest()
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return repo / "snapshots" / revision


def _stand_in_card(spec: TinyModel) -> str:
    """A short model card, so that reading a card (`ModelCard.load(model_id)`) also works offline."""
    return (f"---\nlanguage: {spec.language}\nlicense: apache-2.0\ntags:\n- course-smoke-stand-in\n---\n\n"
            f"# {spec.model_id}: tiny random stand-in\n\n"
            f"Built offline by `course_utils.smoke` for the course's tests: the architecture of the real model "
            f"({spec.head}) at toy size, with random weights. Its predictions mean nothing. The real model and "
            f"its card are at https://huggingface.co/{spec.model_id}.\n")


def build_model(spec: TinyModel, cache: Path) -> Path:
    _claim(cache)
    import torch
    import transformers as tf

    tf.utils.logging.disable_progress_bar()
    tokenizer = _tokenizer(spec)
    config = _config(spec, tokenizer)
    torch.manual_seed(0)  # the same cache every time
    model = getattr(tf, spec.head)(config)
    if spec.family == "gpt2":
        model.generation_config.pad_token_id = tokenizer.eos_token_id
    if spec.family == "qwen2":  # like the real checkpoint's generation_config.json: stop at the end of a turn, sample
        end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        model.generation_config.update(eos_token_id=[tokenizer.eos_token_id, end_of_text], pad_token_id=end_of_text,
                                       do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
    target = _snapshot_dir(cache, spec.model_id)
    model.to(getattr(torch, spec.dtype))
    staging = _staging_dir(target.parent.parent)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / "README.md").write_text(_stand_in_card(spec), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    return target


_STAGING: set[Path] = set()  # staging folders this process made; gone once renamed into place


def _staging_dir(parent: Path) -> Path:
    """A fresh staging folder in `parent`, removed by `_discard_staging` if it was never renamed into place."""
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=".staging-"))
    _STAGING.add(staging)
    return staging


@atexit.register
def _discard_staging() -> None:
    """Remove what is left of this process's staging folders: called when `build` ends, however it ends."""
    while _STAGING:
        shutil.rmtree(_STAGING.pop(), ignore_errors=True)


def install_metric(name: str, cache: Path) -> Path:
    """Place a metric module where `evaluate.load(name)` looks for it when offline."""
    _claim(cache)
    return _copy_metric(name, cache)


def _copy_metric(name: str, cache: Path) -> Path:
    """The copy itself, for a cache whose owner already checked it (benchmarks/real_weights.py's)."""
    source = METRICS_DIR / f"{name}.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    folder = cache / "modules" / "evaluate_modules" / "metrics" / f"evaluate-metric--{name}" / digest
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / f"{name}.py")
    return folder


def _check_writable(cache: Path) -> None:
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache):
            pass
    except OSError as err:
        raise PermissionError(f"Cannot write the smoke cache to {cache} ({err.strerror}). "
                              "Choose a folder you can write to, e.g. `python -m course_utils.smoke build "
                              "/tmp/course-smoke`.") from None


MARKER = ".course-smoke"  # in every cache `build` made: its presence is what allows `build` to write there
_BUILDING = "building"  # the marker's text until a build completes; then the stamp of what was built


class NotASmokeCacheError(ValueError):
    """`build` was pointed at a folder it did not make (a real Hugging Face cache, a home folder ...)."""


def _real_hf_home() -> Path:
    """Where the Hugging Face libraries keep real downloads when HF_HOME is not set."""
    return (Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "huggingface").resolve()


def _refuse_foreign(cache: Path) -> None:
    """Only ever write into a new or empty folder, or one `build` made: never into someone's real cache."""
    safe = "python -m course_utils.smoke build /tmp/course-smoke"
    if (cache / MARKER).is_file():
        return
    if cache == _real_hf_home():
        raise NotASmokeCacheError(
            f"{cache} is the Hugging Face libraries' own cache (the default HF_HOME): tiny stand-ins there "
            f"would answer for the real model ids. Build the smoke cache in a folder of its own: `{safe}`.")
    try:
        occupied = cache.is_dir() and any(cache.iterdir())
    except OSError as err:
        raise PermissionError(f"Cannot read {cache} ({err.strerror}). Build the smoke cache in a folder of its "
                              f"own: `{safe}`.") from None
    if occupied:
        raise NotASmokeCacheError(
            f"{cache} already holds files and is not a smoke cache (no {MARKER} marker): it may be a real "
            f"Hugging Face cache, whose models the builder would replace. Nothing was changed. Build into a "
            f"new or empty folder: `{safe}`.")


def _claim(cache: Path) -> None:
    """Mark a new or empty folder as a smoke cache before writing into it; refuse any other folder."""
    cache = Path(cache).expanduser().resolve()
    _refuse_foreign(cache)
    if not (cache / MARKER).is_file():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / MARKER).write_text(_BUILDING)


def _stamp() -> str:
    """What the marker of a complete, current cache says: the format, the model ids and the metrics' hashes."""
    return json.dumps({"format": FORMAT_VERSION, "models": [m.model_id for m in MODELS],
                       "metrics": {m: hashlib.sha256((METRICS_DIR / f"{m}.py").read_bytes()).hexdigest()
                                   for m in METRICS}}, sort_keys=True)


def _model_built(spec: TinyModel, cache: Path) -> bool:
    """Is the stand-in for `spec` complete: refs/main naming a snapshot that holds config, weights, tokenizer?"""
    repo = cache / "hub" / ("models--" + spec.model_id.replace("/", "--"))
    try:
        snapshot = repo / "snapshots" / (repo / "refs" / "main").read_text().strip()
    except OSError:
        return False
    return ((snapshot / "config.json").is_file() and (snapshot / "tokenizer_config.json").is_file()
            and any(snapshot.glob("*.safetensors")))


def _metric_installed(name: str, cache: Path) -> bool:
    digest = hashlib.sha256((METRICS_DIR / f"{name}.py").read_bytes()).hexdigest()
    return (cache / "modules" / "evaluate_modules" / "metrics" / f"evaluate-metric--{name}" / digest
            / f"{name}.py").is_file()


def _remove_stale_staging(cache: Path, older_than: float = 3600.0) -> None:
    """Staging folders of a build that was killed (kill -9, power cut): nothing else could remove them."""
    now = time.time()
    for folder in (cache / "hub").glob("models--*/.staging-*"):
        try:
            if now - folder.stat().st_mtime > older_than:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


def build(cache: str | os.PathLike, quiet: bool = False) -> Path:
    """Build (or refresh) the smoke cache in `cache`. Safe to run again on the same folder.

    `cache` must be a new or empty folder, or a cache this function built (it holds a `.course-smoke`
    marker): any other folder, such as your real Hugging Face cache, is refused and left untouched.
    Models or metrics missing from an existing smoke cache are rebuilt.
    """
    cache = Path(cache).expanduser().resolve()
    _refuse_foreign(cache)
    _check_writable(cache)
    _remove_stale_staging(cache)
    marker, stamp = cache / MARKER, _stamp()
    if marker.is_file() and marker.read_text() == stamp:
        models = [spec for spec in MODELS if not _model_built(spec, cache)]
        metrics = [name for name in METRICS if not _metric_installed(name, cache)]
        if not models and not metrics:
            if not quiet:
                print(f"Smoke cache in {cache} is up to date.")
            return cache
        if not quiet:
            print(f"Smoke cache in {cache}: rebuilding what is missing.")
    else:
        models, metrics = MODELS, METRICS
    marker.write_text(_BUILDING)  # claims the folder; a build cut short leaves this, not the stamp
    try:
        for spec in models:
            build_model(spec, cache)
            if not quiet:
                print(f"  model   {spec.model_id}")
        for name in metrics:
            install_metric(name, cache)
            if not quiet:
                print(f"  metric  {name}")
    finally:
        _discard_staging()
    marker.write_text(stamp)
    return cache


def environment(cache: str | os.PathLike) -> dict[str, str]:
    """The variables that point transformers, evaluate and the course at a smoke cache.

    EVALUATE_VERBOSITY=error: offline, every `evaluate.load` warns "Using the latest cached version of the
    module ..."; in smoke mode that is how the metrics are meant to load, so the note only hides the lesson.
    """
    return {"HF_HOME": str(Path(cache).resolve()), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "COURSE_SMOKE": "1", "EVALUATE_VERBOSITY": "error"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.smoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    build_parser = sub.add_parser("build", help="build the offline cache of tiny models and metrics in DIR")
    build_parser.add_argument("dir", type=Path)
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"  # building never needs the network
    try:
        cache = build(args.dir)
    except (PermissionError, NotASmokeCacheError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    exports = " ".join(f"{k}={v}" for k, v in environment(cache).items())
    print(f"Built. To use it:\n  export {exports}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
