"""The six lessons, in the course notes' order: the one table `nncli lessons`, `nncli lessons
run` and docs/make_tutorial.py read."""

from __future__ import annotations

from nncli.errors import UsageError
from nncli.lessons import approximation, gradients, overfitting, perceptron, scoring, sgd
from nncli.lessons.lesson import Lesson

LESSONS: dict[int, Lesson] = {
    lesson.number: lesson
    for lesson in (
        perceptron.LESSON,
        gradients.LESSON,
        sgd.LESSON,
        approximation.LESSON,
        overfitting.LESSON,
        scoring.LESSON,
    )
}


def find(number: int) -> Lesson:
    """Lesson `number`, or a UsageError naming the ones there are."""
    if number not in LESSONS:
        raise UsageError(
            f"lesson {number}: no such lesson; `nncli lessons` lists lessons"
            f" {min(LESSONS)} to {max(LESSONS)}"
        )
    return LESSONS[number]
