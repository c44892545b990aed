"""Score novel extraction on annotated data: PDNC-layout folders and World-of-Plainness instances.

    python benchmarks/extraction_eval.py DIR [DIR ...] [--wp FILE --names name_list.txt] [--markdown OUT]

DIR is a PDNC novel folder (novel_text.txt, quotation_info.csv, character_info.csv) or a folder of them.
Quote detection: precision/recall/F1 by span overlap (one-to-one). Speaker accuracy: over gold quotes
whose speaker is a named character (not _group/_unknowable); a gold quote that no predicted quote
overlaps counts as wrong. The cast comes from character_info.csv.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import csv
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from operators.extraction.cast import Cast, CastMember, normalise_gender  # noqa: E402
from operators.extraction.novel import extract_novel  # noqa: E402

csv.field_size_limit(1 << 30)


@dataclass
class Score:
    """Counts for one novel (or a sum of novels)."""

    name: str
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    speaker_total: Counter = field(default_factory=Counter)
    speaker_correct: Counter = field(default_factory=Counter)
    chars: int = 0
    bytes: int = 0
    seconds: float = 0.0
    baseline_correct: int = 0

    def add(self, other: Score) -> None:
        self.gold += other.gold
        self.predicted += other.predicted
        self.matched += other.matched
        self.speaker_total.update(other.speaker_total)
        self.speaker_correct.update(other.speaker_correct)
        self.chars += other.chars
        self.bytes += other.bytes
        self.seconds += other.seconds
        self.baseline_correct += other.baseline_correct

    def prf(self) -> tuple[float, float, float]:
        p = self.matched / self.predicted if self.predicted else 0.0
        r = self.matched / self.gold if self.gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def accuracy(self, kind: str = "all") -> float:
        if kind == "all":
            total, correct = sum(self.speaker_total.values()), sum(self.speaker_correct.values())
        else:
            total, correct = self.speaker_total[kind], self.speaker_correct[kind]
        return correct / total if total else float("nan")


def pdnc_cast(path: Path) -> Cast:
    """The cast from a PDNC character_info.csv (main name, alias set, gender), _group/_unknowable left out."""
    members = []
    with open(path, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["Main Name"]
            if name.startswith("_"):
                continue
            aliases = sorted(ast.literal_eval(row["Aliases"]), key=len, reverse=True)
            members.append(CastMember(name, list(dict.fromkeys([name, *aliases])), normalise_gender(row["Gender"])))
    return Cast(members)


def match_discovered(discovered: Cast, cast: Cast) -> dict[str, str]:
    """Discovered character -> gold main name: the cast character sharing most aliases (then name words)."""
    index = cast.alias_index()
    mapping = {}
    for member in discovered.members:
        votes: dict[str, int] = {}
        for alias in member.aliases:
            for name in index.get(alias, []):
                votes[name] = votes.get(name, 0) + 2
            for word in alias.split():
                for name in index.get(word, []):
                    votes[name] = votes.get(name, 0) + 1
        if votes:
            mapping[member.name] = max(votes, key=lambda n: votes[n])
    return mapping


LLM = None  # an LLMConfig when --llm-model is given: unsure quotes are then asked (the gain is what --llm measures)
LLM_BELOW = 0.5


def _extract(text: str, cast, language: str):  # noqa: ANN001, ANN202
    result = extract_novel(text, cast, language=language)
    if LLM is not None:
        import asyncio

        from operators.extraction.llm_attribution import attribute_unsure

        asyncio.run(attribute_unsure(result, LLM, LLM_BELOW))
    return result


def score_pdnc(folder: Path, discover: bool = False) -> Score:
    """Extract one PDNC novel with its cast (or with discovered characters, matched to the cast) and score it."""
    text = (folder / "novel_text.txt").read_text(encoding="utf-8")
    cast = pdnc_cast(folder / "character_info.csv")
    started = time.perf_counter()
    result = _extract(text, None if discover else cast, "en")
    seconds = time.perf_counter() - started
    if discover:
        mapping = match_discovered(result.cast, cast)
        for utterance in result.utterances:
            utterance.speaker = mapping.get(utterance.speaker or "")
        result.cast = cast
    with open(folder / "quotation_info.csv", encoding="utf-8") as handle:
        gold = [(ast.literal_eval(row["quoteByteSpans"]), row["speaker"], row["quoteType"]) for row in csv.DictReader(handle)]
    # The speaker column sometimes holds an alias (Lucy for Miss Honeychurch): map it to the main name.
    main_names = {m.name for m in cast.members}
    aliases = cast.alias_index()
    gold = [(spans, speaker if speaker in main_names else aliases.get(speaker, [speaker])[0], kind) for spans, speaker, kind in gold]
    predicted = result.utterances
    starts = [u.start for u in predicted]
    used: set[int] = set()
    score = Score(folder.name, gold=len(gold), predicted=len(predicted), chars=len(text), bytes=len(text.encode("utf-8")), seconds=seconds)
    baseline = naive_speakers(text, result)
    for spans, speaker, kind in gold:
        index = bisect.bisect_right(starts, spans[-1][1]) - 1
        match = None
        while index >= 0 and predicted[index].end > spans[0][0] - 100000:
            utterance = predicted[index]
            if index not in used and any(s < e2 and s2 < e for s, e in utterance.spans for s2, e2 in spans):
                match = index
            if utterance.end <= spans[0][0] and utterance.start < spans[0][0] - 20000:
                break
            index -= 1
        if match is not None:
            used.add(match)
            score.matched += 1
        if speaker.startswith("_"):
            continue
        score.speaker_total[kind] += 1
        if match is not None and predicted[match].speaker == speaker:
            score.speaker_correct[kind] += 1
        if match is not None and baseline[match] == speaker:
            score.baseline_correct += 1
    return score


def naive_speakers(text: str, result) -> list[str | None]:
    """The naive baseline of the issue: the cast name mentioned nearest to each quote, outside quotes."""
    from operators.extraction.cast import Mentions

    quoted = [(s, e) for u in result.utterances for s, e in u.spans]
    starts = [s for s, _ in quoted]
    mentions = [
        (s, name) for s, _, name in Mentions(result.cast).find(text)
        if not (0 <= (i := bisect.bisect_right(starts, s) - 1) and quoted[i][0] <= s < quoted[i][1])
    ]
    positions = [s for s, _ in mentions]
    speakers: list[str | None] = []
    for utterance in result.utterances:
        index = bisect.bisect_left(positions, utterance.start)
        near = [mentions[i] for i in (index - 1, index) if 0 <= i < len(mentions)]
        speakers.append(min(near, key=lambda m: abs(m[0] - utterance.start))[1] if near else None)
    return speakers


def pdnc_folders(paths: list[str]) -> list[Path]:
    folders = []
    for raw in paths:
        path = Path(raw)
        if (path / "quotation_info.csv").exists():
            folders.append(path)
        else:
            folders.extend(sorted(p for p in path.iterdir() if (p / "quotation_info.csv").exists()))
    return folders


def load_wp(path: Path) -> list[tuple[list[str], str, str]]:
    """World-of-Plainness instances: (21 lines, gold speaker, category)."""
    instances, lines = [], []
    speaker = category = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Instance index:"):
            lines, speaker, category = [], None, None
        elif line.startswith("Speaker:"):
            speaker = line.split(":", 1)[1].strip()
        elif line.startswith("Speaker index:"):
            continue
        elif line.startswith("Category:"):
            category = line.split(":", 1)[1].strip()
            instances.append((lines, speaker, category))
        elif line.strip():
            lines.append(line.strip())
    return instances


def wp_cast(path: Path) -> Cast:
    """name_list.txt: `gender name alias...` per line (1 male, 0 female)."""
    members = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            members.append(CastMember(parts[1], list(dict.fromkeys(parts[1:])), "M" if parts[0] == "1" else "F"))
    return Cast(members)


def score_wp(path: Path, names: Path) -> tuple[Counter, Counter]:
    """Speaker accuracy on the middle line of each 21-line instance, by category."""
    cast = wp_cast(names)
    total: Counter = Counter()
    correct: Counter = Counter()
    for lines, speaker, category in load_wp(path):
        middle = len(lines) // 2
        text = "\n".join(lines)
        target_start = sum(len(line) + 1 for line in lines[:middle])
        target_end = target_start + len(lines[middle])
        result = _extract(text, cast, "zh")
        predicted = next((u.speaker for u in result.utterances if target_start <= u.start < target_end), None)
        total[category] += 1
        correct[category] += predicted == speaker
    return total, correct


def _wp_throughput(path: Path, names: Path) -> None:
    """zh throughput: the instance lines joined into one text (windows overlap, so lines repeat)."""
    text = "\n".join(line for lines, _, _ in load_wp(path) for line in lines)
    started = time.perf_counter()
    extract_novel(text, wp_cast(names), language="zh")
    seconds = time.perf_counter() - started
    size = len(text.encode("utf-8"))
    print(f"throughput (zh, cast given): {size / 1e6 / seconds:.2f} MB/s on one core ({size / 1e6:.1f} MB in {seconds:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dirs", nargs="*", help="PDNC novel folders, or folders of them")
    parser.add_argument("--wp", action="append", default=[], help="World-of-Plainness instance file(s)")
    parser.add_argument("--names", help="name_list.txt for --wp (default: next to the instance file)")
    parser.add_argument("--discover", action="store_true", help="PDNC without the cast: discovered characters, matched to the cast for scoring")
    parser.add_argument("--llm-model", help="Also ask this model about unsure quotes (endpoint from $CHARDIAL_LLM_BASE_URL); run with and without to measure the gain")
    parser.add_argument("--llm-below", type=float, default=0.5, help="Rule confidence under which quotes go to the LLM")
    args = parser.parse_args()
    global LLM, LLM_BELOW
    if args.llm_model:
        from operators.synthesis.client import LLMConfig

        LLM, LLM_BELOW = LLMConfig(model=args.llm_model, temperature=0.0), args.llm_below
    kinds = ("Explicit", "Anaphoric", "Implicit")
    overall = Score("overall")
    if args.dirs:
        print("| novel | gold quotes | P | R | F1 | speaker acc | explicit | anaphoric | implicit | naive baseline |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for folder in pdnc_folders(args.dirs):
            score = score_pdnc(folder, args.discover)
            overall.add(score)
            _row(score, kinds)
        _row(overall, kinds)
        print(f"\nthroughput (en, cast {'discovered' if args.discover else 'given'}): {overall.bytes / 1e6 / overall.seconds:.2f} MB/s on one core "
              f"({overall.bytes / 1e6:.1f} MB, {overall.chars / 1e6:.1f} M characters, in {overall.seconds:.1f} s)")
    for wp in args.wp:
        names = Path(args.names) if args.names else Path(wp).parent / "name_list.txt"
        total, correct = score_wp(Path(wp), names)
        _wp_throughput(Path(wp), names)
        parts = ", ".join(f"{k} {correct[k] / total[k]:.3f} (n={total[k]})" for k in sorted(total))
        print(f"\nWP {os.path.basename(wp)}: speaker accuracy {sum(correct.values()) / sum(total.values()):.3f} "
              f"(n={sum(total.values())}); {parts}")


def _row(score: Score, kinds: tuple[str, ...]) -> None:
    p, r, f = score.prf()
    per_kind = " | ".join(f"{score.accuracy(k):.3f}" for k in kinds)
    baseline = score.baseline_correct / max(1, sum(score.speaker_total.values()))
    print(f"| {score.name} | {score.gold} | {p:.3f} | {r:.3f} | {f:.3f} | {score.accuracy():.3f} | {per_kind} | {baseline:.3f} |")


if __name__ == "__main__":
    main()
