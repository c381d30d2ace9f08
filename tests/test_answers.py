from fvqa.answers import exact_match, normalize_answer, numeric_match, parse_number, substring_match


def test_normalisation_order_and_rules():
    assert normalize_answer("The  Summer Palace!") == "summer palace"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("Théâtre") == "théâtre"  # only ASCII punctuation is dropped
    assert normalize_answer("STS-93") == "sts93"
    assert normalize_answer("there") == "there"  # articles only as whole words


def test_exact_match_uses_every_answer_and_never_matches_empty():
    assert exact_match("the Beijing.", ["Peking", "Beijing"])
    assert not exact_match("", [""])
    assert not exact_match("Beijing China", ["Beijing"])


def test_substring_match_respects_word_boundaries():
    assert substring_match("It was built in Beijing, China", ["beijing"])
    assert not substring_match("Beijinger", ["Beijing"])


def test_numbers():
    assert parse_number("5,500") == 5500 and parse_number("-3.5") == -3.5 and parse_number("1999.") == 1999
    assert parse_number("about 5500") is None and parse_number("1,23") is None and parse_number("") is None
    assert numeric_match("1,000", ["1000.0"]) and not numeric_match("1001", ["1000"])
    assert not numeric_match("nan", ["nan"])
