"""Extraction measured on the shared annotated data (skips when /work/shared/data is absent); kept to one novel."""

from __future__ import annotations

from benchmarks.extraction_eval import load_wp, pdnc_cast, score_pdnc, score_wp


def test_pdnc_one_novel_quotes_and_speakers(shared_data):
    folder = shared_data / "pdnc" / "DaisyMiller"
    score = score_pdnc(folder)
    precision, recall, f1 = score.prf()
    # Floors well under the measured figures (docs/benchmarks.md): they catch a broken rule, not noise.
    assert f1 > 0.9 and recall > 0.9
    assert score.accuracy() > 0.7
    assert score.accuracy("Explicit") > 0.85
    assert "Daisy Miller" in {m.name for m in pdnc_cast(folder / "character_info.csv").members}


def test_wp_dev_speaker_accuracy(shared_data):
    path = shared_data / "wp" / "dev_unsplit.txt"
    instances = load_wp(path)
    assert len(instances) > 100 and all(len(lines) == 21 for lines, _, _ in instances)
    total, correct = score_wp(path, shared_data / "wp" / "name_list.txt")
    assert sum(correct.values()) / sum(total.values()) > 0.65
    assert correct["explicit"] / total["explicit"] > 0.85
