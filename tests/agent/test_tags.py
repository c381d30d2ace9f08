import pytest

from fvqa.agent.tags import (
    Action,
    count_searches,
    final_answer,
    parse_turn,
    trajectory_well_formed,
    turn_well_formed,
)

IMG = "<reason>I need to know who this is.</reason><search><img></search>"
TXT = "<reason>Now look up the year.</reason><text_search>Eileen Collins first command year</text_search>"
ANS = "<reason>The pages say 1999.</reason><answer>1999</answer>"


@pytest.mark.parametrize("turns", [[ANS], [IMG, ANS], [TXT, ANS], [IMG, TXT, ANS]])
def test_the_four_allowed_shapes_are_well_formed(turns):
    assert trajectory_well_formed(turns)
    assert final_answer(turns) == "1999"


@pytest.mark.parametrize(
    "turns",
    [
        [],
        [TXT, IMG, ANS],  # image search must come first
        [IMG, IMG, ANS],
        [TXT, TXT, ANS],
        [IMG, TXT, TXT, ANS],  # more than three turns: badly formed, not an error
        [IMG],  # no answer
        ["<answer>1999</answer>"],  # no reason
        ["<reason>r</reason><answer>1999</answer> trailing words"],
        ["<reason>r</reason><text_search>q</text_search><answer>1999</answer>"],  # two actions
        ["<reason>a</reason><reason>b</reason><answer>1999</answer>"],
    ],
)
def test_other_shapes_are_badly_formed(turns):
    assert not trajectory_well_formed(turns)


def test_turn_rules():
    assert turn_well_formed("  \n" + ANS + "\n ")
    assert not turn_well_formed("Sure! " + ANS)
    assert not turn_well_formed("<reason>r</reason><search><img></search></search>")


def test_parse_turn_reports_what_was_asked_and_what_is_wrong():
    assert parse_turn(TXT).action is Action.TEXT_SEARCH
    assert parse_turn(TXT).query == "Eileen Collins first command year"
    assert parse_turn(IMG).action is Action.IMAGE_SEARCH and parse_turn(IMG).problems == ()
    nothing = parse_turn("I think it is Paris.")
    assert nothing.action is Action.NONE and set(nothing.problems) == {"no_action", "missing_reason"}
    both = parse_turn("<reason>r</reason><search><img></search><answer>Paris</answer>")
    assert both.actions == (Action.IMAGE_SEARCH, Action.ANSWER) and "multiple_actions" in both.problems
    assert both.action is Action.ANSWER
    assert "empty_answer" in parse_turn("<reason>r</reason><answer>  </answer>").problems
    assert "empty_query" in parse_turn("<reason>r</reason><text_search></text_search>").problems


def test_searches_are_counted_per_turn_except_the_last():
    assert count_searches([ANS]) == 0
    assert count_searches([IMG, TXT, ANS]) == 2
    assert count_searches([IMG, ANS + IMG]) == 1  # the last turn does not count
    single = "<reason>r</reason><search><img></search><answer>1999</answer>"
    assert count_searches([single]) == 1  # ...unless it is the only turn
    assert count_searches(["<text_search>q", ANS]) == 0  # an unclosed tag is no search
    assert count_searches(["<reason>r</reason><search><img></search><text_search>q</text_search>", ANS]) == 1


def test_final_answer_takes_the_last_answer_of_the_last_turn():
    assert final_answer(["<answer>a</answer>", "<answer> b </answer> <answer>c</answer>"]) == "c"
    assert final_answer(["<answer>a</answer>", "no answer here"]) is None
