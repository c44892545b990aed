"""LLM attribution for the quotes the rules leave unsure (off by default).

For every quote whose rule confidence is below a threshold, the LLM reads the passage around it (the
quote marked ⟦…⟧) and names the speaker from the cast, or null. It goes through the project's LLM
client (operators/synthesis/client.py): the same response cache, rate limits, retries and structured
output. An answer that names no cast member is re-asked with the error, then left to the rules. Quotes it
attributes get `method = llm`.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import jinja2
from pydantic import BaseModel

from operators.extraction.novel import NovelExtraction
from operators.extraction.quotes import Utterance
from operators.synthesis.client import LLMClient, LLMConfig, derive_seed
from operators.synthesis.structured import Problem, generate_structured

TEMPLATES = Path(__file__).parent / "templates"
_ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
LLM_CONFIDENCE = 0.6  # what an accepted LLM answer is worth: above the unsure rules it replaces, below explicit cues


class SpeakerAnswer(BaseModel):
    """The structured answer: a cast name, or null."""

    speaker: str | None


def template_version(language: str) -> str:
    name = f"attribution.v1.{language}.jinja"
    return f"{name}@{hashlib.sha256((TEMPLATES / name).read_bytes()).hexdigest()[:12]}"


def passage(text: str, utterance: Utterance, window: int) -> str:
    """The text around the quote, the quote itself marked."""
    start, end = max(0, utterance.start - window), min(len(text), utterance.end + window)
    return text[start : utterance.start] + "⟦" + text[utterance.start : utterance.end] + "⟧" + text[utterance.end : end]


async def attribute_unsure(result: NovelExtraction, llm: LLMConfig, below: float, window: int = 1200) -> int:
    """Ask the LLM about every quote under `below` confidence; returns how many it attributed."""
    names = [member.name for member in result.cast.members]
    unsure = [u for u in result.utterances if u.confidence < below and not u.continues_previous]
    if not unsure or not names:
        return 0
    language = "zh" if result.language == "zh" else "en"
    template = _ENVIRONMENT.get_template(f"attribution.v1.{language}.jinja")
    version = template_version(language)

    def check(answer: SpeakerAnswer) -> list[Problem]:
        if answer.speaker is None or answer.speaker in names:
            return []
        return [("unknown_speaker", f"{answer.speaker!r} is not one of the listed names")]

    def feedback(reason: str, detail: str) -> str:
        return f"That answer was not usable ({reason}: {detail}). Reply with JSON only, naming one listed name or null."

    client = LLMClient(llm)
    try:

        async def ask(utterance: Utterance) -> bool:
            prompt = template.render(names=names, passage=passage(result.text, utterance, window))
            outcome = await generate_structured(
                client, [{"role": "user", "content": prompt}], SpeakerAnswer, seed=derive_seed(llm.seed, str(utterance.start)),
                template_version=version, feedback=feedback, check=check, max_retries=llm.max_validation_retries,
            )
            if outcome.ok and outcome.value is not None and outcome.value.speaker:
                utterance.speaker, utterance.method, utterance.confidence = outcome.value.speaker, "llm", LLM_CONFIDENCE
                return True
            return False

        answers = await asyncio.gather(*(ask(u) for u in unsure))
    finally:
        await client.aclose()
    return sum(answers)
