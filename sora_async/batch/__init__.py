"""The durable JSONL batch behind ``sora-async batch``: resumable, crash-safe, nothing paid twice.

>>> from sora_async.batch import BatchOptions
>>> BatchOptions(input_path="prompts.jsonl", out_path="results.jsonl").journal.name
'results.jsonl.journal'

``run_batch(client, options)`` runs or resumes one (``input``: reading lines; ``journal``: what
makes it resumable; ``lock``: one run per journal; ``preflight``: the checks before the first paid
request; ``run``: the engine); ``merge_results`` joins the results of a sharded batch.
"""

from .lock import BatchLockedError
from .merge import MergeSummary, merge_results
from .options import BatchInputError, BatchOptions, BatchProgress, BatchSummary
from .run import run_batch

__all__ = [
    "BatchInputError",
    "BatchLockedError",
    "BatchOptions",
    "BatchProgress",
    "BatchSummary",
    "MergeSummary",
    "merge_results",
    "run_batch",
]
