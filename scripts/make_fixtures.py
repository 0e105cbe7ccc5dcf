"""Write the tiny datasets shipped in course_utils/fixtures/.

MRPC-, SST-2- and Yelp-style rows are written here from templates (the real texts may not be
redistributed). The NSMC slice is real (CC0) and is cut from a local copy of the corpus:

    python scripts/make_fixtures.py --nsmc-dir ../shared/data/nsmc

The output is deterministic: running it twice writes the same files.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "course_utils" / "fixtures"

PLACES = ["pizza place", "coffee shop", "hotel", "dentist", "car wash", "sushi bar", "bakery",
          "gym", "bookstore", "taco truck", "hair salon", "diner", "bike shop", "ramen spot"]
STAR_PHRASES = {
    0: ["terrible", "awful", "rude staff", "never again", "a total waste of money", "disgusting"],
    1: ["disappointing", "slow service", "not worth it", "pretty bad", "below average", "meh and overpriced"],
    2: ["okay", "average", "fine but forgettable", "decent enough", "nothing special", "so-so"],
    3: ["good", "friendly staff", "would come back", "tasty", "solid choice", "pleasant"],
    4: ["amazing", "outstanding", "the best in town", "absolutely perfect", "wonderful", "loved every minute"],
}
OPENERS = ["We tried the {p} on Friday.", "Went to this {p} with friends.", "First visit to the {p}.",
           "I stopped by the {p} after work.", "My family visited the {p} last weekend."]
CLOSERS = ["Overall {a}.", "In short: {a}.", "My verdict: {a}.", "Honestly, {a}.", "{A}, that is all."]


def yelp_rows(n_per_class: int, rng: random.Random) -> list[dict]:
    rows = []
    for label, phrases in STAR_PHRASES.items():
        for _ in range(n_per_class):
            a, b = rng.sample(phrases, 2)
            text = " ".join([
                rng.choice(OPENERS).format(p=rng.choice(PLACES)),
                f"What stood out: {a}.",
                rng.choice(CLOSERS).format(a=b, A=b.capitalize()),
            ])
            rows.append({"label": label, "text": text})
    rng.shuffle(rows)
    return rows


NAMES = ["Alice Moreau", "the city council", "Acme Corp", "the senator", "Dr. Okafor", "the union",
         "the central bank", "Nordwind Airlines", "the school board", "Professor Lindqvist"]
VERBS = [("announced", "said it would launch"), ("rejected", "turned down"), ("approved", "gave its approval to"),
         ("delayed", "postponed"), ("criticised", "spoke out against")]
OBJECTS = ["the new budget", "a merger with a rival", "the bridge repairs", "a plan to cut fares",
           "the hospital expansion", "a four-day work week", "the tax proposal", "the stadium project"]
DAYS = ["on Monday", "on Tuesday", "last week", "in March", "on Friday", "yesterday"]


def mrpc_rows(n: int, rng: random.Random, start_idx: int = 0) -> list[dict]:
    rows = []
    for i in range(n):
        who, obj, day = rng.choice(NAMES), rng.choice(OBJECTS), rng.choice(DAYS)
        verb, paraphrase = rng.choice(VERBS)
        s1 = f"{who.capitalize() if who[0].islower() else who} {verb} {obj} {day} ."
        label = i % 2
        if label == 1:  # same event, reworded
            s2 = f"{day[0].upper() + day[1:]} , {who} {paraphrase} {obj} ."
        else:  # a different actor or object: not a paraphrase
            other = rng.choice([o for o in OBJECTS if o != obj])
            s2 = f"{day[0].upper() + day[1:]} , {who} {rng.choice(VERBS)[1]} {other} ."
        rows.append({"sentence1": s1, "sentence2": s2, "label": label, "idx": start_idx + i})
    return rows


SST_POS = ["a moving and funny film", "beautifully acted", "a delight from start to finish",
           "smart , warm and surprising", "one of the best films of the year", "charming and heartfelt"]
SST_NEG = ["a dull and lifeless mess", "badly written", "painfully boring", "a waste of a good cast",
           "tedious and predictable", "the worst film of the year"]
SST_FRAMES = ["{x} .", "it is {x} .", "the movie is {x} .", "simply put , {x} .", "{x} , and then some ."]


def sst2_rows(n: int, rng: random.Random, with_labels: bool = True) -> list[dict]:
    rows = []
    for i in range(n):
        label = i % 2
        x = rng.choice(SST_POS if label else SST_NEG)
        rows.append({"sentence": rng.choice(SST_FRAMES).format(x=x), "label": label if with_labels else -1, "idx": i})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def nsmc_slice(src: Path, dst: Path, n_train: int, n_test: int) -> None:
    """Copy the header and the first rows of each file, plus rows that show the real quirks."""
    for name, n in [("ratings_train.txt", n_train), ("ratings_test.txt", n_test)]:
        lines = (src / name).read_text(encoding="utf-8").splitlines()
        header, body = lines[0], lines[1:]
        quoted = [line for line in body if line.split("\t")[1].startswith('"')][:2]
        empty = [line for line in body if line.split("\t")[1] == ""][:1]
        head = [line for line in body if line not in quoted + empty][: n - 3]
        rows = head + quoted + empty
        dst.mkdir(parents=True, exist_ok=True)
        (dst / name).write_text("\n".join([header] + rows) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nsmc-dir", type=Path, help="folder with the real ratings_train.txt and ratings_test.txt")
    args = parser.parse_args()
    rng = random.Random(1234)
    write_jsonl(OUT / "yelp_review_full" / "train.jsonl", yelp_rows(12, rng))
    write_jsonl(OUT / "yelp_review_full" / "test.jsonl", yelp_rows(4, rng))
    write_jsonl(OUT / "mrpc" / "train.jsonl", mrpc_rows(48, rng))
    write_jsonl(OUT / "mrpc" / "validation.jsonl", mrpc_rows(16, rng))
    write_jsonl(OUT / "mrpc" / "test.jsonl", mrpc_rows(16, rng))
    write_jsonl(OUT / "sst2" / "train.jsonl", sst2_rows(48, rng))
    write_jsonl(OUT / "sst2" / "validation.jsonl", sst2_rows(16, rng))
    write_jsonl(OUT / "sst2" / "test.jsonl", sst2_rows(16, rng, with_labels=False))
    if args.nsmc_dir:
        nsmc_slice(args.nsmc_dir, OUT / "nsmc", n_train=64, n_test=24)


if __name__ == "__main__":
    main()
