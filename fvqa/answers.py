"""Answer normalisation and matching, shared by the training reward and the rules judge.

The normalisation is the one DESIGN.md fixes, applied in this order: lower case, drop ASCII
punctuation, replace the words a/an/the by a space, collapse white space.
"""

from __future__ import annotations

import math
import re
import string

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def normalize_answer(text: str) -> str:
    """Lower case, drop ASCII punctuation, articles become spaces, white space collapsed."""
    lowered = text.lower()
    no_punct = lowered.translate(_PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punct)
    return " ".join(no_articles.split())


def exact_match(prediction: str, answers: list[str] | tuple[str, ...]) -> bool:
    """True when the normalised prediction equals a normalised answer (empty never matches)."""
    guess = normalize_answer(prediction)
    return bool(guess) and any(guess == normalize_answer(a) for a in answers if normalize_answer(a))


def substring_match(prediction: str, answers: list[str] | tuple[str, ...]) -> bool:
    """True when a normalised answer occurs, on word boundaries, inside the normalised prediction."""
    guess = f" {normalize_answer(prediction)} "
    return any(f" {normalize_answer(a)} " in guess for a in answers if normalize_answer(a))


def parse_number(text: str) -> float | None:
    """The number a short answer states ("1,234", "-3.5", "42"), or None if it is not one number."""
    candidate = text.strip().rstrip(".").replace(" ", "")
    if not candidate or not _NUMBER.match(candidate):
        return None
    try:
        value = float(candidate.replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def numeric_match(prediction: str, answers: list[str] | tuple[str, ...], rel_tol: float = 1e-6) -> bool:
    """True when the prediction and an answer are both plain numbers and equal."""
    guess = parse_number(prediction)
    if guess is None:
        return False
    for answer in answers:
        value = parse_number(answer)
        if value is not None and math.isclose(guess, value, rel_tol=rel_tol, abs_tol=1e-9):
            return True
    return False
