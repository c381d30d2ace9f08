import pytest

from fvqa.taxonomy import Category, check_subcategory, parse_category, subcategories


def test_every_level1_category_has_level2_slugs():
    table = subcategories()
    assert set(table) == set(Category)
    for category, subs in table.items():
        assert len(subs) >= 3, category
        for slug, description in subs.items():
            assert slug == slug.lower() and " " not in slug
            assert description.strip()


def test_parse_category_is_case_insensitive_and_names_choices():
    assert parse_category("people") is Category.PEOPLE
    with pytest.raises(ValueError, match="expected one of Arts"):
        parse_category("Sports")


def test_subcategory_must_belong_to_its_category():
    check_subcategory(Category.PEOPLE, "astronaut")
    with pytest.raises(ValueError, match="unknown subcategory 'astronaut' for Nature"):
        check_subcategory(Category.NATURE, "astronaut")
    with pytest.raises(ValueError, match="category is not"):
        check_subcategory(None, "astronaut")
