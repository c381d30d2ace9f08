import json

import datasets
import pyarrow.parquet as pq
import pytest

from fvqa import dataset_io
from fvqa.dataset_io import DatasetWriter, DuplicateSampleError, read_dataset, read_manifest, write_dataset


def test_round_trip_keeps_every_field(tmp_path, make_sample):
    samples = [make_sample(i, split="train" if i % 2 else "test") for i in range(5)]
    samples[0] = samples[0].with_history("curate", "kept", "first").model_copy(update={"meta": {"k": [1, "x"]}})
    manifest = write_dataset(samples, tmp_path / "ds")
    back = {s.id: s for s in read_dataset(tmp_path / "ds")}
    assert back == {s.id: s for s in samples}
    assert manifest["counts"]["samples"] == 5
    assert manifest["counts"]["splits"] == {"test": 3, "train": 2}
    assert manifest["schema_version"] == 1
    assert {f["split"] for f in manifest["files"]} == {"train", "test"}


def test_read_one_split(tmp_path, make_sample):
    write_dataset([make_sample(i, split="train" if i < 3 else "test") for i in range(5)], tmp_path / "ds")
    assert sorted(s.source_id for s in read_dataset(tmp_path / "ds", split="test")) == ["item-3", "item-4"]


def test_shards_are_named_for_the_hub_and_rows_add_up(tmp_path, make_sample):
    manifest = write_dataset([make_sample(i) for i in range(7)], tmp_path / "ds", shard_rows=3)
    names = [f["path"] for f in manifest["files"]]
    assert names == [f"data/train-0000{i}-of-00003.parquet" for i in range(3)]
    assert [f["rows"] for f in manifest["files"]] == [3, 3, 1]
    assert not list((tmp_path / "ds" / "data").glob(".*partial"))


def test_content_hash_ignores_order_and_sharding(tmp_path, make_sample):
    samples = [make_sample(i) for i in range(6)]
    a = write_dataset(samples, tmp_path / "a", shard_rows=2)
    b = write_dataset(list(reversed(samples)), tmp_path / "b", shard_rows=100)
    changed = write_dataset([*samples[:5], samples[5].model_copy(update={"answer": "other"})], tmp_path / "c")
    assert a["content_hash"] == b["content_hash"]
    assert changed["content_hash"] != a["content_hash"]


def test_duplicate_id_is_refused_and_not_written(tmp_path, make_sample):
    with DatasetWriter(tmp_path / "ds") as writer:
        writer.write(make_sample(1))
        with pytest.raises(DuplicateSampleError, match="test_source:item-1"):
            writer.write(make_sample(1))
    assert read_manifest(tmp_path / "ds")["counts"]["samples"] == 1


def test_interrupted_write_leaves_no_manifest_and_can_be_redone(tmp_path, make_sample):
    def failing():
        yield make_sample(0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset(failing(), tmp_path / "ds")
    assert not (tmp_path / "ds" / dataset_io.MANIFEST_NAME).exists()
    manifest = write_dataset([make_sample(i) for i in range(2)], tmp_path / "ds")
    assert manifest["counts"]["samples"] == 2
    assert len(list((tmp_path / "ds" / "data").iterdir())) == 1


def test_complete_dataset_is_not_overwritten_by_accident(tmp_path, make_sample):
    write_dataset([make_sample(0)], tmp_path / "ds")
    with pytest.raises(FileExistsError, match="already holds a dataset"):
        write_dataset([make_sample(1)], tmp_path / "ds")
    write_dataset([make_sample(1)], tmp_path / "ds", overwrite=True)
    assert [s.source_id for s in read_dataset(tmp_path / "ds")] == ["item-1"]


def test_reading_streams_in_record_batches(tmp_path, make_sample):
    write_dataset([make_sample(i) for i in range(200)], tmp_path / "ds")
    (shard,) = dataset_io.dataset_files(tmp_path / "ds")
    parquet = pq.ParquetFile(shard)
    assert parquet.metadata.num_row_groups == 4  # row groups of 64: a reader holds one at a time
    stream = read_dataset(tmp_path / "ds")
    assert next(stream).source_id == "item-0"


def test_manifest_of_newer_schema_is_refused(tmp_path, make_sample):
    write_dataset([make_sample(0)], tmp_path / "ds")
    path = tmp_path / "ds" / dataset_io.MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="newer than this fvqa understands"):
        read_manifest(tmp_path / "ds")


def test_datasets_load_dataset_reads_the_folder_with_images_intact(tmp_path, make_sample):
    samples = [make_sample(i, split="train" if i < 3 else "test") for i in range(5)]
    write_dataset(samples, tmp_path / "ds", shard_rows=2)
    by_id = {s.id: s for s in samples}

    loaded = datasets.load_dataset(str(tmp_path / "ds"))
    assert sorted(loaded) == ["test", "train"]
    assert loaded["train"].num_rows == 3 and loaded["test"].num_rows == 2
    row = loaded["train"].cast_column("image", datasets.Image(decode=False))[0]
    assert row["image"]["bytes"] == by_id[row["id"]].image

    files = [str(p) for p in sorted((tmp_path / "ds" / "data").glob("train-*.parquet"))]
    plain = datasets.load_dataset("parquet", data_files=files, split="train")
    assert isinstance(plain.features["image"], datasets.Image)
    decoded = plain[0]["image"]
    assert decoded.size == (64, 48)
    assert plain[0]["aliases"] == by_id[plain[0]["id"]].aliases
