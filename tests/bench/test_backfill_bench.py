from bench.backfill_bench import _phases


def test_it_reads_training_apart_from_scoring_from_the_commands_lines():
    lines = [
        "Trained in 182.4 s, peak memory 231 MB on 198103 rows.",
        "Scored in 121.0 s, peak memory 255 MB.",
        "Scored as of 2026-12-01 with model 3 (gradient_boosting, …): 1000000 rows written.",
    ]

    assert _phases(lines) == {
        "train_seconds": 182.4,
        "train_peak_mb": 231,
        "score_seconds": 121.0,
        "score_peak_mb": 255,
    }


def test_a_scoring_without_training_gives_only_the_scorings_figures():
    assert _phases(["Scored in 9.5 s, peak memory 190 MB."]) == {"score_seconds": 9.5, "score_peak_mb": 190}
