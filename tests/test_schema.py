import hashlib

import pytest
from pydantic import ValidationError

from fvqa.images import ImageDecodeError, ImageErrorKind
from fvqa.schema import Sample, SearchLabel, make_sample_id, new_sample
from tests.conftest import image_bytes


def test_new_sample_derives_id_and_hashes(make_sample):
    sample = make_sample(3)
    assert sample.id == "test_source:item-3" == make_sample_id("test_source", "item-3")
    assert sample.image_sha256 == hashlib.sha256(sample.image).hexdigest()
    assert sample.phash is not None and len(sample.phash) == 16
    assert sample.search_label is SearchLabel.SEARCH_FREE
    assert sample.review.status == "pending"


def test_id_is_independent_of_everything_but_source_and_source_id(make_sample):
    a = make_sample(1, question="Another question?", split="test")
    b = make_sample(1)
    assert a.id == b.id


def test_blank_fields_are_refused(make_sample):
    with pytest.raises(ValidationError, match="question"):
        make_sample(question="   ")
    with pytest.raises(ValidationError, match="answer"):
        make_sample(answer="")


def test_subcategory_must_match_category(make_sample):
    with pytest.raises(ValidationError, match="unknown subcategory 'astronaut' for Nature"):
        make_sample(subcategory="astronaut")
    with pytest.raises(ValidationError):
        make_sample(category="Sports")


def test_id_mismatch_is_refused(make_sample):
    sample = make_sample()
    data = sample.model_dump()
    data["id"] = "something-else"
    with pytest.raises(ValidationError, match="does not match source and source_id"):
        Sample.model_validate(data)


def test_undecodable_image_names_the_sample():
    with pytest.raises(ImageDecodeError) as caught:
        new_sample(source="s", source_id="bad", split="train", question="q?", answer="a", image=b"not an image")
    assert caught.value.kind is ImageErrorKind.NOT_AN_IMAGE
    assert "s:bad" in str(caught.value)


def test_answers_and_history(make_sample):
    sample = make_sample(aliases=["thing 0", "Thing Zero"])
    assert sample.answers == ["thing 0", "Thing Zero"]
    later = sample.with_history("dedup", "kept", "no near duplicate")
    assert sample.history == []
    assert [(h.step, h.decision, h.reason) for h in later.history] == [("dedup", "kept", "no near duplicate")]


def test_search_label_requires_search():
    assert SearchLabel.SEARCH_FREE.requires_search is False
    assert SearchLabel.MIXED_SEARCH_REQUIRED.requires_search is True
    assert SearchLabel.UNKNOWN.requires_search is None


def test_image_field_keeps_bytes_out_of_repr():
    sample = new_sample(source="s", source_id="1", split="train", question="q?", answer="a", image=image_bytes(1))
    assert "image=" not in repr(sample).replace("image_sha256", "").replace("image_url", "")
