"""radimpress.scoring: exact, fast ROUGE (rouge-score's numbers) and per-model aggregates.

Pure standard library on the default path, because the Score Lambda imports it; stemming loads
NLTK lazily. See docs/contracts.md ("Scoring").
"""

from radimpress.scoring.aggregate import (
    Distribution,
    GroupSummary,
    bootstrap_mean_ci,
    format_distribution_table,
    format_mean_table,
    summaries_to_dict,
    summarize,
    summarize_group,
)
from radimpress.scoring.rouge import ROUGE_TYPES, RougeScorer, Score, score_rows

__all__ = [
    "ROUGE_TYPES",
    "Distribution",
    "GroupSummary",
    "RougeScorer",
    "Score",
    "bootstrap_mean_ci",
    "format_distribution_table",
    "format_mean_table",
    "score_rows",
    "summaries_to_dict",
    "summarize",
    "summarize_group",
]
