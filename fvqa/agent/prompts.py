"""The agent's prompt templates: files written by fvqa, swappable by the user.

A template is plain text with `{name}` placeholders; only the names a template is given are
replaced, so braces elsewhere (JSON examples, say) need no escaping. A user folder may hold
any subset of the files: the rest come from fvqa's defaults, and `describe()` records which
file each template came from and the hash of the whole set for the run's provenance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

TEMPLATE_NAMES = (
    "agent_tags",  # first user turn, tag protocol
    "agent_tools",  # first user turn, function-calling protocol
    "direct",  # the only turn of direct mode
    "information",  # search results returned to the model
    "instruct_continue",  # what to do next, when rounds remain
    "instruct_final",  # what to do next, in the last round
    "tools_continue",  # function-calling protocol: what to do next, when rounds remain
    "tools_final",  # function-calling protocol: what to do next, in the last round
    "rag_query",  # rag mode: write a text query from the image-search results
    "no_action",  # the model's reply ended with no action
    "over_limit",  # the model asked for a search it may not make
)


def _default_text(name: str) -> str:
    return resources.files("fvqa.agent").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


@dataclass(frozen=True)
class PromptSet:
    """Every template the agent uses, with where each came from."""

    texts: dict[str, str]
    origins: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path | None = None) -> PromptSet:
        """fvqa's templates, overridden by `<name>.txt` files in `folder` when given."""
        texts, origins = {}, {}
        user = Path(folder) if folder is not None else None
        if user is not None and not user.is_dir():
            raise FileNotFoundError(f"prompt folder {user} does not exist")
        for name in TEMPLATE_NAMES:
            path = user / f"{name}.txt" if user is not None else None
            if path is not None and path.is_file():
                texts[name], origins[name] = path.read_text(encoding="utf-8"), str(path)
            else:
                texts[name], origins[name] = _default_text(name), "fvqa default"
        return cls(texts, origins)

    def render(self, name: str, **values: object) -> str:
        text = self.texts[name]
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text.strip()

    def hash(self) -> str:
        digest = hashlib.sha256()
        for name in TEMPLATE_NAMES:
            digest.update(name.encode() + b"\0" + self.texts[name].encode() + b"\0")
        return "sha256:" + digest.hexdigest()

    def describe(self) -> dict[str, object]:
        return {
            "prompt_hash": self.hash(),
            "templates": {
                name: {"origin": self.origins.get(name, "?"), "sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}
                for name, text in self.texts.items()
            },
        }
