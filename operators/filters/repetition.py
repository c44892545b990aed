"""`filters.repetition`: Gopher-style repetition checks (Rae et al. 2021, table A1), adapted to dialogues.

- Duplicate lines: the share of lines (turn lines, normalised) that repeat an earlier line of the dialogue,
  and the share of characters in them. Lines shorter than `min_line_chars` never count: back-channel
  replies ("ok", "嗯嗯") repeat in every real conversation.
- Top n-gram (n = 2, 3, 4): the share of characters covered by the most repeated n-gram.
- Duplicate n-grams (n = 5 .. 10): the share of characters inside n-grams that occur more than once.
  Tokens are the dedup tokens (words; one token per CJK character), so zh and en are treated alike.
  Both n-gram checks apply only to dialogues of at least `min_tokens` tokens: short ones are all noise.
- Repeated character replies: the share of character turns that repeat an earlier character turn.

The n-gram statistics are vectorised over the whole batch: n-gram hashes for all windows at once, counts
per (dialogue, n-gram) by `np.unique`, covered characters by a difference array.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.arrow_lists import combined, parents, turn_field
from operators.base import Filter, OperatorConfig
from operators.dedup.shingles import Tokens, dialogue_tokens, normalize, shingle_hashes, windows
from operators.registry import register

DUP_LINES = pa.field("rep_dup_line_frac", pa.float32())
DUP_LINE_CHARS = pa.field("rep_dup_line_char_frac", pa.float32())
TOP_NGRAM = pa.field("rep_top_ngram_frac", pa.float32())
DUP_NGRAM = pa.field("rep_dup_ngram_frac", pa.float32())
REPEATED_REPLIES = pa.field("rep_repeated_reply_frac", pa.float32())


class RepetitionConfig(OperatorConfig):
    max_dup_line_frac: float = Field(0.30, ge=0, le=1, description="Gopher: share of lines repeating an earlier line.")
    max_dup_line_char_frac: float = Field(0.20, ge=0, le=1, description="Gopher: share of characters in repeated lines.")
    min_line_chars: int = Field(6, ge=1, description="Shorter normalised lines never count as duplicates (back-channel replies).")
    top_ngram_max: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16}, description="Gopher: n -> max share of characters in the most repeated n-gram."
    )
    dup_ngram_max: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="Gopher: n -> max share of characters inside repeated n-grams.",
    )
    min_tokens: int = Field(50, ge=1, description="n-gram checks need at least this many tokens (words, or CJK characters).")
    max_repeated_reply_frac: float = Field(0.30, ge=0, le=1, description="Share of character turns repeating an earlier character turn.")
    min_repeated_replies: int = Field(2, ge=1, description="...and at least this many of them (one repeat in three turns is a quirk).")


def _top_ngram_frac(tokens: Tokens, chars: np.ndarray, n: int, eligible: np.ndarray) -> np.ndarray:
    """Per dialogue: characters in the most repeated n-gram (count x its characters) over all characters."""
    shingles = windows(tokens, np.full(len(tokens.counts), n), 1 << 40)
    result = np.zeros(len(tokens.counts))
    if len(shingles.starts) == 0:
        return result
    owner = np.repeat(np.arange(len(tokens.counts)), np.diff(shingles.offsets))
    key = (owner.astype(np.uint64) << np.uint64(32)) | shingle_hashes(tokens, shingles).astype(np.uint64)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    cumulative = np.concatenate([[0], np.cumsum(chars)])
    window_chars = cumulative[shingles.starts + n] - cumulative[shingles.starts]
    covered = np.where(counts[inverse] > 1, counts[inverse] * window_chars, 0)
    np.maximum.at(result, owner, covered)
    return np.where(eligible, result / np.maximum(_totals(tokens, chars), 1), 0.0)


def _dup_ngram_frac(tokens: Tokens, chars: np.ndarray, n: int, eligible: np.ndarray) -> np.ndarray:
    """Per dialogue: characters of tokens inside some n-gram that occurs twice or more, over all characters."""
    shingles = windows(tokens, np.full(len(tokens.counts), n), 1 << 40)
    if len(shingles.starts) == 0:
        return np.zeros(len(tokens.counts))
    owner = np.repeat(np.arange(len(tokens.counts)), np.diff(shingles.offsets))
    key = (owner.astype(np.uint64) << np.uint64(32)) | shingle_hashes(tokens, shingles).astype(np.uint64)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    starts = shingles.starts[counts[inverse] > 1]
    # Mark tokens covered by a repeated window: +1 at its start, -1 after its end, running sum > 0.
    delta = np.zeros(len(chars) + 1, np.int64)
    np.add.at(delta, starts, 1)
    np.add.at(delta, starts + n, -1)
    covered = np.cumsum(delta[:-1]) > 0
    token_owner = np.repeat(np.arange(len(tokens.counts)), tokens.counts)
    dup_chars = np.bincount(token_owner, weights=chars * covered, minlength=len(tokens.counts))
    return np.where(eligible, dup_chars / np.maximum(_totals(tokens, chars), 1), 0.0)


def _totals(tokens: Tokens, chars: np.ndarray) -> np.ndarray:
    token_owner = np.repeat(np.arange(len(tokens.counts)), tokens.counts)
    return np.bincount(token_owner, weights=chars, minlength=len(tokens.counts))


@register
class RepetitionFilter(Filter):
    name: ClassVar[str] = "filters.repetition"
    Config = RepetitionConfig
    reads = frozenset({"turns"})
    writes = frozenset(f.name for f in (DUP_LINES, DUP_LINE_CHARS, TOP_NGRAM, DUP_NGRAM, REPEATED_REPLIES))
    new_fields = (DUP_LINES, DUP_LINE_CHARS, TOP_NGRAM, DUP_NGRAM, REPEATED_REPLIES)
    summary = "Rejects repetitive dialogues: Gopher duplicate-line and n-gram fractions, repeated character replies."

    def _lines_and_replies(self, batch: pa.Table) -> tuple[list[float], list[float], list[float], list[int]]:
        c: RepetitionConfig = self.config  # type: ignore[assignment]
        turns = combined(batch.column("turns"))
        owners = parents(turns).to_pylist()
        texts = pc.fill_null(turn_field(turns, "text"), "")
        roles = turn_field(turns, "role").to_pylist()
        replies = normalize(texts).to_pylist()
        lines = pc.split_pattern(texts, "\n")
        line_owner = [owners[i] for i in pc.list_parent_indices(lines).to_pylist()]
        normal_lines = normalize(lines.flatten()).to_pylist()
        n = batch.num_rows
        seen: list[set[str]] = [set() for _ in range(n)]
        line_count, dup_count, char_count, dup_chars = [0] * n, [0] * n, [0] * n, [0] * n
        for owner, line in zip(line_owner, normal_lines, strict=True):
            if not line:
                continue
            line_count[owner] += 1
            char_count[owner] += len(line)
            if len(line) >= c.min_line_chars and line in seen[owner]:
                dup_count[owner] += 1
                dup_chars[owner] += len(line)
            seen[owner].add(line)
        said: list[set[str]] = [set() for _ in range(n)]
        character_turns, repeated = [0] * n, [0] * n
        for owner, role, reply in zip(owners, roles, replies, strict=True):
            if role != "character" or not reply:
                continue
            character_turns[owner] += 1
            if reply in said[owner]:
                repeated[owner] += 1
            said[owner].add(reply)
        return (
            [d / max(t, 1) for d, t in zip(dup_count, line_count, strict=True)],
            [d / max(t, 1) for d, t in zip(dup_chars, char_count, strict=True)],
            [r / max(t, 1) for r, t in zip(repeated, character_turns, strict=True)],
            repeated,
        )

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list]]:
        c: RepetitionConfig = self.config  # type: ignore[assignment]
        dup_lines, dup_line_chars, repeated_frac, repeated = self._lines_and_replies(batch)
        tokens = dialogue_tokens(batch)
        chars = pc.utf8_length(tokens.vocabulary).to_numpy(zero_copy_only=False).astype(np.int64)[tokens.ids]
        eligible = tokens.counts >= c.min_tokens
        top = {n: _top_ngram_frac(tokens, chars, n, eligible) for n in sorted(c.top_ngram_max)}
        dup = {n: _dup_ngram_frac(tokens, chars, n, eligible) for n in sorted(c.dup_ngram_max)}
        reasons: list[str | None] = []
        details: list[str | None] = []
        for i in range(batch.num_rows):
            checks = [
                (dup_lines[i] > c.max_dup_line_frac, "duplicate_lines", f"{dup_lines[i]:.0%} of lines repeat > {c.max_dup_line_frac:.0%}"),
                (
                    dup_line_chars[i] > c.max_dup_line_char_frac,
                    "duplicate_lines",
                    f"{dup_line_chars[i]:.0%} of characters in repeated lines > {c.max_dup_line_char_frac:.0%}",
                ),
                (
                    repeated[i] >= c.min_repeated_replies and repeated_frac[i] > c.max_repeated_reply_frac,
                    "repeated_replies",
                    f"{repeated[i]} character replies repeat an earlier one ({repeated_frac[i]:.0%} > {c.max_repeated_reply_frac:.0%})",
                ),
            ]
            checks += [
                (
                    top[n][i] > c.top_ngram_max[n],
                    "repeated_ngrams",
                    f"top {n}-gram covers {top[n][i]:.0%} of characters > {c.top_ngram_max[n]:.0%}",
                )
                for n in top
            ]
            checks += [
                (
                    dup[n][i] > c.dup_ngram_max[n],
                    "repeated_ngrams",
                    f"repeated {n}-grams cover {dup[n][i]:.0%} of characters > {c.dup_ngram_max[n]:.0%}",
                )
                for n in dup
            ]
            failed = next(((reason, detail) for bad, reason, detail in checks if bad), (None, None))
            reasons.append(failed[0])
            details.append(failed[1])
        worst_top = np.max(np.stack(list(top.values())), axis=0) if top else np.zeros(batch.num_rows)
        worst_dup = np.max(np.stack(list(dup.values())), axis=0) if dup else np.zeros(batch.num_rows)
        scores = {
            DUP_LINES: dup_lines,
            DUP_LINE_CHARS: dup_line_chars,
            TOP_NGRAM: worst_top.tolist(),
            DUP_NGRAM: worst_dup.tolist(),
            REPEATED_REPLIES: repeated_frac,
        }
        return reasons, details, scores
