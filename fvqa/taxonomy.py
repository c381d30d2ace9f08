"""The knowledge taxonomy: level 1 from the FVQA paper, level 2 from `data/taxonomy.yaml`."""

from __future__ import annotations

import enum
from functools import cache
from importlib import resources

import yaml


class Category(enum.StrEnum):
    """Level-1 knowledge category, as in the FVQA paper."""

    ARTS = "Arts"
    PLACE = "Place"
    PEOPLE = "People"
    INDUSTRY = "Industry"
    SCIENCE = "Science"
    NATURE = "Nature"
    ENTITIES = "Entities"
    EVENTS = "Events"


@cache
def subcategories() -> dict[Category, dict[str, str]]:
    """Level-2 slugs per level-1 category, each with its one-line description."""
    text = resources.files("fvqa.data").joinpath("taxonomy.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)["categories"]
    unknown = set(raw) - {c.value for c in Category}
    if unknown or len(raw) != len(Category):
        raise ValueError(f"taxonomy.yaml must list exactly the level-1 categories; got {sorted(raw)}")
    return {Category(name): dict(subs) for name, subs in raw.items()}


def parse_category(value: str) -> Category:
    """The level-1 category named by `value`, matched case-insensitively."""
    for category in Category:
        if category.value.lower() == value.strip().lower():
            return category
    choices = ", ".join(c.value for c in Category)
    raise ValueError(f"unknown category {value!r}; expected one of {choices}")


def check_subcategory(category: Category | None, subcategory: str) -> None:
    """Raise ValueError unless `subcategory` is a level-2 slug of `category`."""
    if category is None:
        raise ValueError(f"subcategory {subcategory!r} is set but category is not")
    known = subcategories()[category]
    if subcategory not in known:
        raise ValueError(
            f"unknown subcategory {subcategory!r} for {category.value}; expected one of {', '.join(sorted(known))}"
        )
