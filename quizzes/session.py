"""A quiz run over several questions: answers so far, score and review.

Plain Python, so the notebook test widget and the terminal quiz share it and a
unit test can drive it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .checker import CheckResult, check, normalize_letter
from .questions import DIFFICULTIES, QUESTIONS, Question, get_question


@dataclass
class QuizSession:
    """Records one answer per question; a later answer replaces an earlier one."""

    questions: tuple[Question, ...] = QUESTIONS
    answers: dict[str, str] = field(default_factory=dict)  # id -> letter

    @classmethod
    def from_ids(cls, ids: Iterable[str]) -> "QuizSession":
        return cls(tuple(get_question(i) for i in ids))

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise ValueError(f"{question_id} is not part of this quiz")

    def answer(self, question_id: str, letter: str) -> CheckResult:
        question = self.question(question_id)
        result = check(question, normalize_letter(letter, question))
        self.answers[question.id] = result.chosen
        return result

    @property
    def finished(self) -> bool:
        return all(q.id in self.answers for q in self.questions)

    def results(self) -> list[CheckResult | None]:
        """One result per question, in order; None where it was not answered."""
        return [check(q, self.answers[q.id]) if q.id in self.answers else None
                for q in self.questions]

    @property
    def score(self) -> int:
        return sum(1 for r in self.results() if r is not None and r.correct)

    def score_by_difficulty(self) -> dict[str, tuple[int, int]]:
        """difficulty -> (correct, total), for the difficulties present."""
        tally: dict[str, tuple[int, int]] = {}
        for q, r in zip(self.questions, self.results()):
            right, total = tally.get(q.difficulty, (0, 0))
            tally[q.difficulty] = (right + int(r is not None and r.correct), total + 1)
        return {d: tally[d] for d in DIFFICULTIES if d in tally}

    def summary(self) -> str:
        """'7/10 correct (easy 3/3, medium 2/4, hard 2/3)'."""
        return f"{self.score}/{len(self.questions)} correct ({by_difficulty_text(self.score_by_difficulty())})"

    def reset(self) -> None:
        self.answers.clear()


def by_difficulty_text(tally: dict[str, tuple[int, int]] | dict[str, list[int]]) -> str:
    """'easy 3/3, medium 2/4, hard 2/3'."""
    return ", ".join(f"{d} {c}/{t}" for d, (c, t) in tally.items())
