import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fvqa.convert import convert
from fvqa.official import OfficialRowError, official_row_fields, write_official
from fvqa.schema import SearchLabel
from fvqa.sources import DatasetFormat, detect_format, iter_samples
from tests.conftest import image_bytes


def _official_rows(n: int, *, with_ids: bool, with_category: bool, source: str) -> list[dict]:
    rows = []
    for i in range(n):
        row = {
            "prompt": [{"content": f"Question {i} about this picture?", "role": "user"}],
            "images": [{"bytes": image_bytes(i), "path": None}],
            "reward_model": {
                "candidate_answers": json.dumps([f"answer {i}", f"alias {i}", "Ré\u00fcnion"]),
                "ground_truth": f"answer {i}",
                "style": "rule",
            },
            "data_source": source,
            "image_urls": None,
        }
        if with_ids:
            row["data_id"] = f"{source.split('/')[-1]}_{i}"
        if with_category:
            row["category"] = "search_free" if i % 2 else "search_required"
        rows.append(row)
    return rows


def _write_rows(path, rows, null_urls=True):
    table = pa.Table.from_pylist(rows)
    if null_urls:
        table = table.set_column(table.schema.get_field_index("image_urls"), "image_urls", pa.nulls(len(rows)))
    pq.write_table(table, path)


def test_fixture_round_trips_exactly(official_fixture, tmp_path):
    back = tmp_path / "back.parquet"
    result = convert(official_fixture, back, to=DatasetFormat.OFFICIAL)
    assert result.written == 5 and not result.rejected
    original = pq.read_table(official_fixture)
    written = pq.read_table(back)
    assert written.schema.names == original.schema.names
    assert written.to_pylist() == original.to_pylist()


def test_fixture_through_the_fvqa_format_and_back(official_fixture, tmp_path):
    convert(official_fixture, tmp_path / "ds", to=DatasetFormat.FVQA)
    convert(tmp_path / "ds", tmp_path / "back.parquet", to=DatasetFormat.OFFICIAL)
    original = pq.read_table(official_fixture).to_pylist()
    written = pq.read_table(tmp_path / "back.parquet").to_pylist()
    assert sorted(original, key=lambda r: r["prompt"][0]["content"]) == sorted(
        written, key=lambda r: r["prompt"][0]["content"]
    )
    for row in written:  # image bytes are the same bytes, not a re-encoding
        assert row["images"][0]["bytes"] in {r["images"][0]["bytes"] for r in original}


def test_fixture_fields_map_to_the_record(official_fixture):
    samples = list(iter_samples(official_fixture))
    spain = next(s for s in samples if s.answer == "Spain")
    assert spain.question == "What is the country of origin of this food?"
    assert spain.source == "mmsearch_r1/infoseek_train_split" and spain.split == "train"
    assert "Kingdom of Spain" in spain.aliases and "\U0001f1ea\U0001f1f8" in spain.aliases
    assert spain.image_url is None and spain.search_label is SearchLabel.UNKNOWN
    assert len({s.id for s in samples}) == 5


def test_ids_do_not_depend_on_row_order(official_fixture, tmp_path):
    table = pq.read_table(official_fixture)
    pq.write_table(table.take([4, 3, 2, 1, 0]), tmp_path / "reversed.parquet")
    assert {s.id for s in iter_samples(official_fixture)} == {s.id for s in iter_samples(tmp_path / "reversed.parquet")}


def test_train_file_with_ids_and_categories_and_test_file_without(tmp_path):
    train, test = tmp_path / "fvqa_train.parquet", tmp_path / "fvqa_test.parquet"
    _write_rows(train, _official_rows(4, with_ids=True, with_category=True, source="mmsearch_r1/fvqa_train"))
    _write_rows(test, _official_rows(3, with_ids=True, with_category=False, source="mmsearch_r1/fvqa_test"))
    assert detect_format(tmp_path) is DatasetFormat.OFFICIAL

    train_samples = list(iter_samples(train))
    assert [s.id for s in train_samples] == [f"mmsearch_r1/fvqa_train:fvqa_train_{i}" for i in range(4)]
    assert [s.search_label for s in train_samples] == [
        SearchLabel.UNKNOWN,
        SearchLabel.SEARCH_FREE,
        SearchLabel.UNKNOWN,
        SearchLabel.SEARCH_FREE,
    ]
    test_samples = list(iter_samples(test))
    assert {s.split for s in test_samples} == {"test"}

    for src in (train, test):
        out = tmp_path / f"back_{src.name}"
        convert(src, out, to=DatasetFormat.OFFICIAL)
        assert pq.read_table(out).to_pylist() == pq.read_table(src).to_pylist()
        assert pq.read_schema(out).names == pq.read_schema(src).names


def test_edited_labels_and_aliases_are_written_back(tmp_path):
    src = tmp_path / "fvqa_train.parquet"
    _write_rows(src, _official_rows(2, with_ids=True, with_category=True, source="mmsearch_r1/fvqa_train"))
    edited = [
        s.model_copy(
            update={
                "aliases": ["new alias"],
                "search_label": SearchLabel.TEXT_SEARCH_REQUIRED,
                "image_url": "https://img.example/1.jpg",
            }
        )
        for s in iter_samples(src)
    ]
    write_official(edited, tmp_path / "out.parquet")
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [r["category"] for r in rows] == ["search_required", "search_required"]
    assert [json.loads(r["reward_model"]["candidate_answers"]) for r in rows] == [["new alias"]] * 2
    assert rows[0]["image_urls"] == ["https://img.example/1.jpg"]


def test_native_samples_get_every_official_column(tmp_path, make_sample):
    write_official([make_sample(0), make_sample(1, search_label="image_search_required")], tmp_path / "o.parquet")
    rows = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert rows[0]["prompt"] == [{"content": "What is shown in picture 0?", "role": "user"}]
    assert rows[0]["data_id"] == "item-0" and rows[0]["data_source"] == "test_source"
    assert [r["category"] for r in rows] == ["search_free", "search_required"]
    assert json.loads(rows[0]["reward_model"]["candidate_answers"]) == ["the thing 0"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": []}, "prompt` is empty"),
        ({"prompt": None}, "missing prompt"),
        ({"images": []}, "holds no image"),
        (
            {"reward_model": {"candidate_answers": "[not json", "ground_truth": "x", "style": "rule"}},
            "not valid JSON",
        ),
        (
            {"reward_model": {"candidate_answers": '{"a": 1}', "ground_truth": "x", "style": "rule"}},
            "JSON list of strings",
        ),
    ],
)
def test_bad_rows_name_the_row_and_the_reason(change, message):
    row = {**_official_rows(1, with_ids=True, with_category=False, source="s/fvqa_train")[0], **change}
    with pytest.raises(OfficialRowError, match=message) as caught:
        official_row_fields(row, index=7, default_source="file")
    assert "row 7 (fvqa_train_0)" in str(caught.value)


def test_multi_turn_prompt_is_kept(tmp_path):
    rows = _official_rows(1, with_ids=True, with_category=False, source="s/fvqa_train")
    rows[0]["prompt"] = [{"content": "You answer questions.", "role": "system"}, rows[0]["prompt"][0]]
    _write_rows(tmp_path / "in.parquet", rows)
    (sample,) = iter_samples(tmp_path / "in.parquet")
    assert sample.question == "Question 0 about this picture?"
    write_official([sample], tmp_path / "out.parquet")
    assert pq.read_table(tmp_path / "out.parquet").to_pylist()[0]["prompt"] == rows[0]["prompt"]
