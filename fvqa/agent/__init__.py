"""The search agent protocol: the tag grammar, turn shapes and search limits.

One module used by evaluation, curation (preliminary-model rollouts) and training (the
reward's format rules and veRL's agent loop). See DESIGN.md "The search agent protocol".
"""

from fvqa.agent.tags import (
    Action,
    ParsedTurn,
    count_searches,
    final_answer,
    parse_turn,
    trajectory_well_formed,
    turn_well_formed,
)

__all__ = [
    "Action",
    "ParsedTurn",
    "count_searches",
    "final_answer",
    "parse_turn",
    "trajectory_well_formed",
    "turn_well_formed",
]
