"""MinHash signature throughput, docs/s on one core: ours vs `datasketch.MinHash.bulk`, same documents, same run.

    python -m benchmarks.minhash --docs 20000 --repeat 3
    python -m benchmarks.minhash --docs 20000 --repeat 3 --script mixed

Documents are 200 words drawn from a Zipf-distributed 50k-word vocabulary (like running text: few
frequent words, a long tail). `--script zh` makes them 200 Han characters drawn the same way from 3,000
(with a full-width comma every 12 and a full stop at the end: the Unicode normalisation path), `mixed`
alternates en and zh documents in one batch. Shingles are 3-grams of tokens (words, or CJK
characters) for every script. Every variant gets the same documents and produces signatures for word
3-gram shingles with num_perm=128, seed=1; equality with datasketch is checked on the first documents.

- datasketch: `MinHash.bulk` over each document's shingle bytes (shingling not timed).
- ours, sha1: the same shingles, datasketch's default hash, bit-equal signatures (shingling not timed).
- ours, token: from the same tokens; the default "token" shingle hash (shingling timed).
- ours, text: end to end from raw text: normalisation, tokens, shingles, "token" hash, signatures.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import pyarrow as pa

from benchmarks.timing import best_times
from operators.dedup.shingles import Tokens, ngram_sizes, shingle_hashes, shingle_strings, text_tokens, windows
from operators.dedup.signatures import signatures

NUM_PERM, SEED, NGRAM = 128, 1, 3


def documents(count: int, words: int = 200, vocabulary: int = 50_000, seed: int = 0) -> list[str]:
    """`count` documents of `words` Zipf-distributed words."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.1, count * words), vocabulary) - 1
    lexicon = np.array([f"w{i:x}" for i in range(vocabulary)])
    return [" ".join(row) for row in lexicon[ranks].reshape(count, words)]


def zh_documents(count: int, characters: int = 200, vocabulary: int = 3_000, seed: int = 0) -> list[str]:
    """`count` documents of `characters` Zipf-distributed Han characters, a comma every 12 and a full stop."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.1, count * characters), vocabulary) - 1
    lexicon = np.array([chr(0x4E00 + i) for i in range(vocabulary)])
    rows = ("".join(row) for row in lexicon[ranks].reshape(count, characters))
    return ["，".join(row[i : i + 12] for i in range(0, characters, 12)) + "。" for row in rows]


def corpus(count: int, script: str) -> list[str]:
    """The benchmark's documents for `script` (en, zh, or mixed: en and zh alternating)."""
    if script == "en":
        return documents(count)
    if script == "zh":
        return zh_documents(count)
    en, zh = documents((count + 1) // 2), zh_documents(count // 2, seed=1)
    return [text for pair in zip(en, zh, strict=False) for text in pair] + en[len(zh) :]



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000, help="Documents per variant.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per variant; the best is reported.")
    parser.add_argument("--script", choices=("en", "zh", "mixed"), default="en", help="Documents' script (see above).")
    parser.add_argument("--json", help="Also write the figures to this file.")
    args = parser.parse_args()
    pa.set_cpu_count(1)  # one core: Arrow kernels would otherwise use a thread pool
    pa.set_io_thread_count(1)

    texts = pa.array(corpus(args.docs, args.script))
    tokens = text_tokens(texts)
    shingles = windows(tokens, ngram_sizes(tokens, NGRAM, NGRAM), 100_000)
    strings = shingle_strings(tokens, shingles).to_pylist()
    shingle_bytes = [[s.encode("utf-8") for s in strings[shingles.offsets[d] : shingles.offsets[d + 1]]] for d in range(args.docs)]
    # The tokens alone, as `Tokens` (so the token variant redoes windows and hashes, not normalisation).
    plain = Tokens(tokens.vocabulary, tokens.ids, tokens.offsets, tokens.cjk)

    from datasketch import MinHash

    check = MinHash.bulk(shingle_bytes[:50], num_perm=NUM_PERM, seed=SEED)
    ours = signatures(shingle_hashes(tokens, shingles, "sha1"), shingles.offsets, NUM_PERM, SEED)
    assert all(np.array_equal(m.hashvalues, ours[i]) for i, m in enumerate(check)), "sha1 signatures differ from datasketch"

    def sha1_variant() -> None:
        signatures(shingle_hashes(tokens, shingles, "sha1"), shingles.offsets, NUM_PERM, SEED)

    def token_variant() -> None:
        w = windows(plain, ngram_sizes(plain, NGRAM, NGRAM), 100_000)
        signatures(shingle_hashes(plain, w, "token"), w.offsets, NUM_PERM, SEED)

    def text_variant() -> None:
        t = text_tokens(texts)
        w = windows(t, ngram_sizes(t, NGRAM, NGRAM), 100_000)
        signatures(shingle_hashes(t, w, "token"), w.offsets, NUM_PERM, SEED)

    base = "datasketch MinHash.bulk (shingles given)"
    times = best_times(
        args.repeat,
        {
            base: lambda: MinHash.bulk(shingle_bytes, num_perm=NUM_PERM, seed=SEED),
            "ours, sha1 hash (shingles given; equal signatures)": sha1_variant,
            "ours, token hash (from tokens)": token_variant,
            "ours, token hash (from raw text: normalise + tokenise + shingle + sign)": text_variant,
        },
    )
    figures = {name: args.docs / seconds for name, seconds in times.items()}
    baseline = figures[base]
    print(f"{args.docs} docs ({args.script}) x 200 tokens, {NGRAM}-gram shingles, num_perm={NUM_PERM}, one core (pid {os.getpid()})")
    print("| variant | docs/s | vs datasketch |")
    print("|---|---:|---:|")
    for name, rate in figures.items():
        print(f"| {name} | {rate:,.0f} | {rate / baseline:.1f}x |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
