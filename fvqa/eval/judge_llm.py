"""Stage two of judging: an LLM grades what the rules could not decide.

The judge model sees one prompt built from a template with three placeholders,
``{question}``, ``{answers}`` (the ground truth first, then its aliases, one per line) and
``{prediction}``, and must end its reply with a line holding only CORRECT, INCORRECT or
NOT_ATTEMPTED. Parsing is strict: the last non-empty line, with surrounding markdown
emphasis and trailing punctuation removed, must be one of those labels (any case; a space
or hyphen may stand for the underscore). Anything else, and any failed call, is a judge
failure carrying its reason: a grade is never guessed.

The default template is package data (``fvqa/eval/prompts/judge.txt``); a user may point
at their own file. Its sha256 (`template_hash`) goes into result.json. Calls are made at
temperature 0, so a `ChatClient` with a cache answers a repeated grade without a request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fvqa.eval.records import Verdict
from fvqa.models import ChatClient

DEFAULT_TEMPLATE_PATH = Path(__file__).with_name("prompts") / "judge.txt"
PLACEHOLDERS: tuple[str, ...] = ("question", "answers", "prediction")
NO_ANSWER_TEXT = "(no answer)"
"""What the judge is shown in place of a missing prediction."""

_PLACEHOLDER = re.compile(r"\{(question|answers|prediction)\}")
_EDGE_MARKUP = "*_`~ \t"
_TRAILING_PUNCTUATION = ".!,;:"
_LABELS: dict[str, Verdict] = {
    "CORRECT": Verdict.CORRECT,
    "INCORRECT": Verdict.INCORRECT,
    "NOT_ATTEMPTED": Verdict.NOT_ATTEMPTED,
}
_ANY_LABEL = re.compile(r"\b(?:NOT[ _-]?ATTEMPTED|INCORRECT|CORRECT)\b")
_QUOTE_LIMIT = 80


class TemplateError(ValueError):
    """A judge template that cannot be used (missing file, missing placeholder)."""


def default_template() -> str:
    """The text of the judge template shipped with fvqa."""
    return DEFAULT_TEMPLATE_PATH.read_text(encoding="utf-8")


def validate_template(text: str, source: str = "the judge template") -> str:
    """`text` unchanged if it holds every placeholder; raises `TemplateError` naming what is missing."""
    missing = [name for name in PLACEHOLDERS if "{" + name + "}" not in text]
    if missing:
        names = ", ".join("{" + name + "}" for name in missing)
        wanted = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise TemplateError(f"{source} lacks the placeholder(s) {names}; a judge template must contain {wanted}")
    return text


def load_template(path: str | Path) -> str:
    """Read and validate a user's judge template file (UTF-8)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise TemplateError(f"cannot read the judge template {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise TemplateError(f"the judge template {path} is not UTF-8 text: {err.reason}") from None
    return validate_template(text, source=f"the judge template {path}")


def template_hash(text: str) -> str:
    """The sha256 (hex) of a template's UTF-8 text, for provenance."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_answers(answers: Sequence[str]) -> str:
    """The accepted answers as the judge sees them: one per line, the ground truth first."""
    lines = [f"- {answer.strip()}" for answer in answers if answer.strip()]
    return "\n".join(lines) if lines else "- (none given)"


def render_prompt(template: str, question: str, answers: Sequence[str], prediction: str | None) -> str:
    """Fill the template's placeholders in one pass (text inside a value is never substituted again)."""
    values = {
        "question": question.strip(),
        "answers": format_answers(answers),
        "prediction": prediction.strip() if prediction and prediction.strip() else NO_ANSWER_TEXT,
    }
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _quote(text: str) -> str:
    return repr(text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "...")


def _bare_label(line: str) -> str:
    """A line without surrounding emphasis marks and trailing punctuation, upper-cased."""
    previous = None
    while previous != line:
        previous = line
        line = line.strip(_EDGE_MARKUP).rstrip(_TRAILING_PUNCTUATION)
    return re.sub(r"[ \-]+", "_", line).upper()


def parse_verdict(text: str | None) -> tuple[Verdict | None, str | None]:
    """The verdict on the reply's last non-empty line, or (None, why the reply cannot be read)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return None, "the judge's reply is empty"
    last = lines[-1].strip()
    label = _bare_label(last)
    verdict = _LABELS.get(label)
    if verdict is not None:
        return verdict, None
    if len(_ANY_LABEL.findall(last.upper())) > 1:
        return None, f"the judge's last line names more than one label: {_quote(last)}"
    return None, f"the judge's last line is not exactly one of CORRECT, INCORRECT, NOT_ATTEMPTED: {_quote(last)}"


@dataclass(frozen=True)
class JudgeCall:
    """One LLM grading: a verdict, or the error that stopped it; the judge's own text as explanation."""

    verdict: Verdict | None
    explanation: str | None = None
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict is not None


class LLMJudge:
    """Grades a prediction with a chat model and a judge template (the default one, or a user's).

    Give at most one of ``template_text`` and ``template_path``; either is validated here, so
    a bad template fails when the judge is built, not halfway through a run.
    """

    def __init__(
        self,
        client: ChatClient,
        template_text: str | None = None,
        *,
        template_path: str | Path | None = None,
        max_tokens: int = 1024,
    ) -> None:
        if template_text is not None and template_path is not None:
            raise TemplateError("give a judge template as text or as a file path, not both")
        if template_path is not None:
            self.template = load_template(template_path)
            self.template_source = str(template_path)
        elif template_text is not None:
            self.template = validate_template(template_text)
            self.template_source = "text"
        else:
            source = f"the default template {DEFAULT_TEMPLATE_PATH}"
            self.template = validate_template(default_template(), source=source)
            self.template_source = "default"
        self.client = client
        self.max_tokens = max_tokens
        self.template_hash = template_hash(self.template)

    def prompt(self, question: str, answers: Sequence[str], prediction: str | None) -> str:
        """The exact text sent to the judge model for one grading."""
        return render_prompt(self.template, question, answers, prediction)

    async def grade(self, question: str, answers: Sequence[str], prediction: str | None) -> JudgeCall:
        """Grade one prediction; never raises for a failed call or an unreadable reply."""
        messages = [{"role": "user", "content": self.prompt(question, answers, prediction)}]
        result = await self.client.complete(messages, temperature=0.0, max_tokens=self.max_tokens)
        if result.error is not None:
            error = f"judge call failed ({result.error.kind}): {result.error.message}"
            return JudgeCall(None, explanation=None, error=error, cached=result.cached)
        verdict, problem = parse_verdict(result.text)
        if verdict is None:
            error = f"unparseable judge reply: {problem}"
            return JudgeCall(None, explanation=result.text, error=error, cached=result.cached)
        return JudgeCall(verdict, explanation=result.text, error=None, cached=result.cached)

    def describe(self) -> dict[str, object]:
        """The judge model and template, for result.json (the endpoint is described by `Judge`)."""
        return {
            "model": self.client.model,
            "template_hash": self.template_hash,
            "template_source": self.template_source,
            "temperature": 0.0,
            "max_tokens": self.max_tokens,
        }
