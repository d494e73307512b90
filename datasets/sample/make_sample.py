"""Generate the synthetic demo input ``domains.csv`` (deterministic: same seed, same bytes).

Usage: ``python datasets/sample/make_sample.py [--out PATH] [--seed N] [--size N]``

The mix (fractions of rows) is what a researcher's messy input list looks like:
existing names across the simulator's TLDs, exact duplicates and case / trailing-dot
variants, IDN U-labels, invalid values, TLDs without RDAP service in the simulator's
bootstrap, and non-existent ``nx-`` names. See README.md.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import idna

SEED = 20251231
SIZE = 3000
SHARES = {"dup": 0.05, "idn": 0.02, "invalid": 0.01, "unsupported": 0.03, "nx": 0.08}

# Weights roughly follow registration volumes; zip is the scenario's dead registry.
TLDS = {
    "com": 34, "net": 7, "org": 10, "xyz": 5, "uk": 6, "fr": 5, "no": 3, "cz": 3,
    "dev": 4, "ai": 4, "top": 4, "moscow": 2, "click": 3, "zip": 1,
}  # fmt: skip
UNSUPPORTED = ["de", "es", "jp", "it", "nl", "pl", "ch", "br"]

ADJECTIVES = [
    "blue", "green", "red", "silver", "golden", "bright", "quiet", "rapid", "happy",
    "clever", "urban", "rural", "northern", "southern", "coastal", "alpine", "solar",
    "lunar", "modern", "classic", "little", "grand", "open", "smart", "fresh", "wild",
    "noble", "royal", "simple", "pure", "swift", "bold", "calm", "crisp", "deep", "iron",
    "stone", "cedar", "maple", "oak",
]  # fmt: skip
NOUNS = [
    "harbor", "river", "market", "garden", "bakery", "studio", "labs", "works", "house",
    "bridge", "forest", "valley", "summit", "meadow", "anchor", "beacon", "canvas",
    "compass", "harvest", "lantern", "orchard", "pixel", "rocket", "signal", "timber",
    "voyage", "willow", "atlas", "cobalt", "ember", "falcon", "granite", "horizon",
    "island", "journal", "kettle", "lotus", "mosaic", "nectar", "orbit", "prairie",
    "quarry", "ranger", "saddle", "tundra",
]  # fmt: skip
AFFIXES = ["get", "my", "the", "go", "try", "hq", "app", "online", "shop", "group", "co"]
IDN_WORDS = {
    "latin": [
        "bücher", "münchen", "café", "crème", "jardín", "niño", "smörgås", "blåbær",
        "čaj", "řeka", "köln", "zürich", "señor", "façade", "århus", "für-alle",
        "grün", "schön", "déjà-vu", "élan",
    ],
    "cyrillic": ["дом", "магазин", "москва", "книга", "сад"],
    "cjk": ["比特币", "例子", "商店", "花园"],
}  # fmt: skip
IDN_TLDS = {"latin": ["fr", "com", "no", "cz", "org", "net"], "cyrillic": ["moscow", "com"],
            "cjk": ["top", "xyz", "com"]}  # fmt: skip


def label(rng: random.Random) -> str:
    """A realistic second-level label."""
    shape = rng.random()
    adj, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
    if shape < 0.35:
        return adj + noun
    if shape < 0.55:
        return f"{adj}-{noun}"
    if shape < 0.70:
        affix = rng.choice(AFFIXES)
        return affix + noun if rng.random() < 0.5 else noun + affix
    if shape < 0.82:
        return f"{noun}{rng.randint(1, 999)}"
    if shape < 0.92:
        return f"{adj}{noun}{rng.choice(NOUNS)}"
    return noun


def fqdn(rng: random.Random, sld: str, tld: str) -> str:
    if tld == "uk":  # most .uk names sit under co.uk
        return f"{sld}.co.uk" if rng.random() < 0.8 else f"{sld}.uk"
    return f"{sld}.{tld}"


def pick_tld(rng: random.Random) -> str:
    return rng.choices(list(TLDS), weights=list(TLDS.values()))[0]


def unique(rng: random.Random, n: int, make: object, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        value = make(rng)  # type: ignore[operator]
        if value not in taken:
            taken.add(value)
            out.append(value)
    return out


def idn_name(rng: random.Random) -> str:
    script = rng.choice(list(IDN_WORDS))
    word = rng.choice(IDN_WORDS[script])
    if rng.random() < 0.5:
        word = f"{word}-{rng.randint(2, 99)}"
    name = f"{word}.{rng.choice(IDN_TLDS[script])}"
    idna.encode(name, uts46=True)  # every U-label here must be valid IDNA 2008
    return name


def invalid_values(rng: random.Random, n: int) -> list[str]:
    makers = [
        lambda: f"-{label(rng)}-.com",
        lambda: f"{label(rng)}..{rng.choice(['org', 'net'])}",
        lambda: "",
        lambda: f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}.com",
        lambda: "x" * rng.randint(64, 80) + ".com",
        lambda: ".".join(["a" * 60] * 5) + ".net",  # > 253 characters
        lambda: f"{label(rng)}_{rng.choice(NOUNS)}.org",
        lambda: f"{rng.choice(NOUNS)}$.fr",
        lambda: f".{label(rng)}.com",
    ]
    return [makers[i % len(makers)]() for i in range(n)]


def build(seed: int = SEED, size: int = SIZE) -> list[str]:
    """The sample's rows, in their final (shuffled) order."""
    rng = random.Random(seed)
    counts = {k: round(size * v) for k, v in SHARES.items()}
    n_base = size - sum(counts.values())
    taken: set[str] = set()
    base = unique(rng, n_base, lambda r: fqdn(r, label(r), pick_tld(r)), taken)
    nx = unique(rng, counts["nx"], lambda r: fqdn(r, "nx-" + label(r), pick_tld(r)), taken)
    unsupported = unique(
        rng, counts["unsupported"], lambda r: f"{label(r)}.{r.choice(UNSUPPORTED)}", taken
    )
    idns = unique(rng, counts["idn"], idn_name, taken)
    invalid = invalid_values(rng, counts["invalid"])
    dups: list[str] = []
    for i in range(counts["dup"]):
        name = rng.choice(base)
        if i % 2 == 0:
            dups.append(name)  # exact duplicate
        else:  # the same name spelled differently
            dups.append(rng.choice([name.upper(), name.title(), name + ".", name.upper() + "."]))
    rows = base + nx + unsupported + idns + invalid + dups
    rng.shuffle(rows)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("domains.csv"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--size", type=int, default=SIZE)
    args = parser.parse_args()
    with args.out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["domain"])
        writer.writerows([row] for row in build(args.seed, args.size))


if __name__ == "__main__":
    main()
