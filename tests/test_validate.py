import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from fvqa import dataset_io
from fvqa.dataset_io import write_dataset
from fvqa.validate import validate
from tests.conftest import image_bytes


def _bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buffer, format="PNG")  # 144 Mpx, a few KB on disk
    return buffer.getvalue()


def _hostile_images() -> dict[str, bytes]:
    good = image_bytes(1)
    return {
        "good.jpg": good,
        "truncated.jpg": good[: len(good) // 2],
        "bomb.png": _bomb_png(),
        "zero.jpg": b"",
        "notes.jpg": b"these are my notes, not a picture\n",
        "png_named.jpg": image_bytes(2, fmt="PNG"),
    }


def _kinds(report) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for p in report.problems:
        found.setdefault(p.location, set()).add(p.kind)
    return found


def test_folder_of_hostile_images_reports_each_file(tmp_path):
    for name, data in _hostile_images().items():
        (tmp_path / name).write_bytes(data)
    report = validate(tmp_path)
    kinds = _kinds(report)
    assert report.format == "imagefolder"
    assert report.rows == 6
    assert report.rows_with_errors == 4 and report.clean_rows == 2
    assert report.rows_with_errors + report.clean_rows == report.rows
    assert kinds == {
        "truncated.jpg": {"undecodable_image"},
        "bomb.png": {"undecodable_image"},
        "zero.jpg": {"undecodable_image"},
        "notes.jpg": {"undecodable_image"},
        "png_named.jpg": {"extension_mismatch"},
    }
    messages = {p.location: p.message for p in report.problems}
    assert "truncated" in messages["truncated.jpg"]
    assert "144,000,000 pixels" in messages["bomb.png"]
    assert "empty" in messages["zero.jpg"]
    assert "not an image" in messages["notes.jpg"]
    assert not report.is_clean()


def test_image_folder_with_metadata(tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes(1))
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    (tmp_path / "stray.jpg").write_bytes(image_bytes(3))
    rows = [
        {
            "file_name": "a.jpg",
            "question": "Which cat is this?",
            "answer": "Chelsea",
            "category": "Nature",
            "subcategory": "animal",
            "aliases": ["Chelsea the cat"],
        },
        {"file_name": "b.jpg", "question": "What is it?", "answer": "x"},
        {"file_name": "missing.jpg", "question": "Where?", "answer": "y"},
        {"file_name": "a.jpg", "id": "a", "question": "", "answer": "z", "category": "Sports"},
        {"file_name": "../outside.jpg", "question": "q", "answer": "a"},
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    report = validate(tmp_path)
    kinds = _kinds(report)
    assert report.rows == 7  # 6 metadata lines + the stray file
    assert "metadata.jsonl:0 (a.jpg)" not in kinds
    assert kinds["metadata.jsonl:1 (b.jpg)"] == {"undecodable_image", "missing_category"}
    assert kinds["metadata.jsonl:2 (missing.jpg)"] == {"unreadable_row"}
    assert {"missing_field", "unknown_category"} <= kinds["metadata.jsonl:3 (a.jpg)"]
    assert kinds["metadata.jsonl:4 (../outside.jpg)"] == {"unreadable_row"}
    assert kinds["metadata.jsonl:5"] == {"unreadable_row"}
    assert kinds["stray.jpg"] == {"unlisted_file"}
    assert report.clean_rows + report.rows_with_errors == report.rows


def test_official_file_with_hostile_rows(tmp_path):
    images = _hostile_images()
    rows = []
    for i, (name, data) in enumerate(images.items()):
        rows.append(
            {
                "prompt": [{"content": f"What is in {name}?", "role": "user"}],
                "images": [{"bytes": data, "path": None}],
                "reward_model": {"candidate_answers": "[]", "ground_truth": "x", "style": "rule"},
                "data_source": "hostile/fvqa_train",
                "data_id": f"row_{i}",
            }
        )
    rows.append({**rows[0]})  # a duplicate id
    rows.append(
        {
            **rows[0],
            "data_id": "no_answer",
            "reward_model": {"candidate_answers": "[]", "ground_truth": "", "style": "rule"},
        }
    )
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "hostile.parquet")
    report = validate(tmp_path / "hostile.parquet")
    by_id = {}
    for p in report.problems:
        by_id.setdefault(p.sample_id, set()).add(p.kind)
    assert by_id["hostile/fvqa_train:row_1"] >= {"undecodable_image"}  # truncated
    assert by_id["hostile/fvqa_train:row_2"] >= {"undecodable_image"}  # bomb
    assert by_id["hostile/fvqa_train:row_3"] >= {"undecodable_image"}  # zero bytes
    assert by_id["hostile/fvqa_train:row_4"] >= {"undecodable_image"}  # text
    assert "duplicate_id" in by_id["hostile/fvqa_train:row_0"]
    assert "missing_field" in by_id["hostile/fvqa_train:no_answer"]
    assert report.rows == 8 and report.rows_with_errors == 6 and report.clean_rows == 2


def test_clean_fvqa_dataset_and_tampering(tmp_path, make_sample):
    write_dataset([make_sample(i) for i in range(4)], tmp_path / "ds")
    assert validate(tmp_path / "ds").is_clean(strict=True)

    (shard,) = dataset_io.dataset_files(tmp_path / "ds")
    table = pq.read_table(shard)
    answers = table.column("answer").to_pylist()
    answers[1] = "tampered"
    categories = table.column("category").to_pylist()
    categories[2] = "Sports"
    table = table.set_column(table.schema.get_field_index("answer"), "answer", pa.array(answers))
    table = table.set_column(table.schema.get_field_index("category"), "category", pa.array(categories))
    sha = table.column("image_sha256").to_pylist()
    sha[3] = "0" * 64
    table = table.set_column(table.schema.get_field_index("image_sha256"), "image_sha256", pa.array(sha))
    pq.write_table(table, shard)

    report = validate(tmp_path / "ds")
    kinds = {(p.sample_id, p.kind) for p in report.problems}
    assert ("test_source:item-2", "unknown_category") in kinds
    assert ("test_source:item-3", "hash_mismatch") in kinds
    manifest_messages = [p.message for p in report.problems if p.kind == "manifest_mismatch"]
    assert any("changed since the manifest" in m for m in manifest_messages)
    assert any("content hash" in m for m in manifest_messages)
    assert not report.is_clean()
