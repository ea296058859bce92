"""The evaluation cache (table `ps_evaluations`): one prompt on one example, under one model and
decoding. Implements evaluate.EvalCache, so a repeated candidate costs no model call; a repeated
insert (another worker stored the same rows first) is a no-op."""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from promptsearch.evaluate.evaluator import ExampleResult
from promptsearch.storage.models import EvaluationRow
from promptsearch.storage.retry import Sessions


class Evaluations:
    def __init__(self, db: Sessions):
        self.db = db

    def get(self, model: str, prompt_hash: str, decoding: str,
            example_ids: Sequence[str]) -> dict[str, ExampleResult]:
        wanted = set(example_ids)
        query = sa.select(EvaluationRow.example_id, EvaluationRow.prediction, EvaluationRow.score,
                          EvaluationRow.feedback).where(
            EvaluationRow.model == model, EvaluationRow.prompt_hash == prompt_hash,
            EvaluationRow.decoding == decoding)
        rows = self.db.read(lambda s: s.execute(query).all())
        return {r.example_id: ExampleResult(r.example_id, r.prediction, r.score, r.feedback)
                for r in rows if r.example_id in wanted}

    def put(self, model: str, prompt_hash: str, decoding: str, results: Sequence[ExampleResult]) -> None:
        """Insert results in one transaction; rows another worker stored meanwhile are kept."""
        self.db.insert_ignoring_duplicates(EvaluationRow, [
            {"model": model, "prompt_hash": prompt_hash, "decoding": decoding, "example_id": r.example_id,
             "prediction": r.prediction, "correct": r.score >= 1.0, "score": r.score, "feedback": r.feedback}
            for r in results])

    def count(self) -> int:
        return self.db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(EvaluationRow))) or 0
