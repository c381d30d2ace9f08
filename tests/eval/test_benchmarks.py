"""Benchmark loaders, each on small hand-written data in its benchmark's real layout.

The real benchmarks cannot be downloaded here, so `tests/eval/data/<benchmark>/` holds a few rows
per benchmark as the source releases them (JSON Lines, JSON) or as row lists for the parquet
releases; images and parquet files are generated at test time into a temporary copy (see
`tests/eval/data/README.md`). The LiveVQA layout is assumed (its card is gated), the others are
confirmed; each loader's docstring says where from.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fvqa import dataset_io
from fvqa.demo.world import build_world, load_world_spec
from fvqa.eval.benchmarks import (
    DEFAULT_BENCHMARK,
    LOADERS,
    BenchmarkError,
    benchmarks_dir,
    load_benchmark,
    read_suite,
)
from fvqa.eval.benchmarks.base import Row, pick
from fvqa.schema import SearchLabel
from tests.conftest import OFFICIAL_FIXTURE, image_bytes

DATA = Path(__file__).parent / "data"
REGISTERED = ("fvqa_test", "infoseek", "mmsearch", "simplevqa", "livevqa", "demo")
CORRUPT = b"these bytes are not an image"

_STR = pa.string()
_IMAGE = pa.struct([("bytes", pa.binary()), ("path", _STR)])
OFFICIAL_SCHEMA = pa.schema(
    [
        ("prompt", pa.list_(pa.struct([("content", _STR), ("role", _STR)]))),
        ("images", pa.list_(_IMAGE)),
        ("reward_model", pa.struct([("candidate_answers", _STR), ("ground_truth", _STR), ("style", _STR)])),
        ("data_source", _STR),
        ("image_urls", pa.list_(_STR)),
        ("data_id", _STR),
    ]
)
MMSEARCH_SCHEMA = pa.schema(
    [
        ("sample_id", pa.int64()),
        ("query", _STR),
        ("query_image", _IMAGE),
        ("image_search_result", _IMAGE),
        ("area", _STR),
        ("subfield", _STR),
        ("timestamp", _STR),
        ("gt_requery", _STR),
        ("gt_answer", _STR),
        ("alternative_gt_answers", pa.list_(_STR)),
    ]
)
SIMPLEVQA_COLUMNS = ("data_id", "image", "image_description", "language", "question", "answer")
SIMPLEVQA_SCHEMA = pa.schema(
    [
        ("data_id", pa.int64()),
        *[(c, _STR) for c in SIMPLEVQA_COLUMNS[1:]],
        *[(c, _STR) for c in ("original_category", "source", "atomic_question", "atomic_fact")],
    ]
)


# --- building the data tree: the layout the registered suites expect under $FVQA_DATA_DIR --------------


def picture(seed: Any, suffix: str = ".jpg") -> bytes:
    return CORRUPT if seed == "corrupt" else image_bytes(seed, fmt="PNG" if suffix == ".png" else "JPEG")


def image_struct(seed: Any) -> dict[str, Any] | None:
    return None if seed is None else {"bytes": picture(seed), "path": None}


def write_official(rows: list[dict[str, Any]], path: Path) -> None:
    table = [
        {
            "prompt": [{"content": r["question"], "role": "user"}],
            "images": [image_struct(r["image"])],
            "reward_model": {
                "candidate_answers": json.dumps(r["candidate_answers"]),
                "ground_truth": r["ground_truth"],
                "style": "rule",
            },
            "data_source": "mmsearch_r1/fvqa_test",
            "image_urls": None,
            "data_id": r["data_id"],
        }
        for r in rows
    ]
    pq.write_table(pa.Table.from_pylist(table, schema=OFFICIAL_SCHEMA), path)


def write_mmsearch(rows: list[dict[str, Any]], path: Path) -> None:
    table = [{**r, "query_image": image_struct(r["query_image"]), "image_search_result": None} for r in rows]
    for row, source in zip(table, rows, strict=True):
        row["image_search_result"] = image_struct(source["image_search_result"])
    pq.write_table(pa.Table.from_pylist(table, schema=MMSEARCH_SCHEMA), path)


def write_simplevqa(rows: list[dict[str, Any]], path: Path) -> None:
    def encoded(seed: Any) -> str:
        return "corrupt!!" if seed == "corrupt" else base64.b64encode(picture(seed)).decode()

    table = [{**r, "image": encoded(r["image"])} for r in rows]
    pq.write_table(pa.Table.from_pylist(table, schema=SIMPLEVQA_SCHEMA), path)


def draw_images(folder: Path) -> None:
    for rel, seed in json.loads((folder / "images.json").read_text()).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(picture(seed, Path(rel).suffix))


def build_tree(root: Path) -> Path:
    shutil.copytree(DATA, root, dirs_exist_ok=True)
    draw_images(root / "infoseek")
    draw_images(root / "livevqa")
    rows = {
        name: json.loads((root / name / "rows.json").read_text()) for name in ("fvqa_test", "mmsearch", "simplevqa")
    }
    write_official(rows["fvqa_test"], root / "fvqa_test" / "fvqa_test.parquet")
    write_mmsearch(rows["mmsearch"], root / "mmsearch" / "end2end.parquet")
    write_simplevqa(rows["simplevqa"], root / "simplevqa" / "test.parquet")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(tmp_path_factory.mktemp("benchmark-data"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-world")
    build_world(folder)
    return folder


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tree: Path, world: Path) -> None:
    """Point the registered suites at the generated tree and the demo world at a built copy."""
    monkeypatch.setenv("FVQA_DATA_DIR", str(tree))
    monkeypatch.setenv("FVQA_DEMO_WORLD", str(world))
    monkeypatch.delenv("FVQA_BENCHMARKS_DIR", raising=False)


def write_suite(
    folder: Path, name: str, loader: str, paths: dict[str, str], subset: dict[str, Any] | None = None
) -> Path:
    suite = {"name": name, "loader": loader, "source": f"test copy of {loader}", "paths": paths, "subset": subset or {}}
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(suite), encoding="utf-8")  # JSON is YAML
    return path


def skipped_ids(benchmark: Any) -> dict[str, str]:
    return dict(benchmark.skipped)


# --- each benchmark's mapping ------------------------------------------------------------------------


def test_fvqa_test_reads_the_official_layout(tree: Path) -> None:
    bench = load_benchmark("fvqa_test")
    by_id = {s.source_id: s for s in bench.samples}
    assert sorted(by_id) == ["fvqa_test_0", "fvqa_test_1", "fvqa_test_4"]
    first = by_id["fvqa_test_0"]
    assert first.id == "mmsearch_r1/fvqa_test:fvqa_test_0"
    assert (first.question, first.answer) == ("Who designed the tower in this photo?", "Gustave Eiffel")
    assert first.aliases == ["Alexandre Gustave Eiffel", "Eiffel"]
    assert first.split == "test"
    assert first.category is None and first.search_label is SearchLabel.UNKNOWN  # the test file has no category
    assert first.image == image_bytes(51)
    assert bench.subset_rule == "every question of fvqa_test.parquet (5 rows)"
    assert "arXiv:2506.20670" in bench.source


def test_infoseek_maps_answers_aliases_and_numerical_ranges(tree: Path) -> None:
    bench = load_benchmark("infoseek")
    by_id = {s.source_id: s for s in bench.samples}
    assert sorted(by_id) == [
        "infoseek_val_00000001",
        "infoseek_val_00000002",
        "infoseek_val_00000003",
        "infoseek_val_00000006",
    ]
    hare = by_id["infoseek_val_00000001"]
    assert hare.id == "infoseek:infoseek_val_00000001"
    assert (hare.answer, hare.aliases, hare.split) == ("Lepus", ["hares"], "val")
    assert hare.meta["infoseek"] == {
        "image_id": "oven_05050169",
        "data_split": "val_unseen_question",
        "question_type": "String",
    }
    assert hare.image == image_bytes(1)  # found in the OVEN shard folder 05/
    china = by_id["infoseek_val_00000002"]
    assert (china.answer, china.aliases) == ("People's Republic of China", ["China", "PRC"])
    tower = by_id["infoseek_val_00000003"]
    assert (tower.answer, tower.aliases) == ("330", [])
    assert tower.meta["infoseek"]["answer_range"] == [297.0, 363.0]
    assert tower.meta["infoseek"]["question_type"] == "Numerical"
    assert by_id["infoseek_val_00000006"].image == image_bytes(6)  # found by walking nested folders
    assert all(s.category is None for s in bench.samples)


def test_infoseek_reads_a_lone_numerical_answer_and_a_flat_image_folder(tmp_path: Path) -> None:
    row = {
        "data_id": "infoseek_val_00000009",
        "image_id": "oven_00000009",
        "question": "How long is this river in kilometres?",
        "answer": [],
        "answer_eval": {"wikidata": 1.5, "range": [1.35, 1.65]},
        "data_split": "val_unseen_entity",
    }
    (tmp_path / "infoseek_val.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "oven_00000009.JPEG").write_bytes(image_bytes(9))
    paths = {"annotations": "infoseek_val.jsonl", "images": "images"}
    (sample,) = load_benchmark(write_suite(tmp_path, "one", "infoseek", paths)).samples
    assert (sample.answer, sample.aliases) == ("1.5", [])
    assert sample.meta["infoseek"]["answer_range"] == [1.35, 1.65]


def test_infoseek_default_rule_is_a_seeded_2000_sample_of_val(tree: Path) -> None:
    rule = load_benchmark("infoseek").subset_rule
    assert rule.startswith("all 6 val-split questions in infoseek_val.jsonl")  # fewer than 2,000 here
    assert "subset size 2000" in rule and "MMSearch-R1" in rule
    assert "infoseek_train_00000000" not in {s.source_id for s in load_benchmark("infoseek").samples}


def test_infoseek_subset_size_draws_a_stable_seeded_val_sample(tree: Path, tmp_path: Path) -> None:
    folder = tree / "infoseek"
    paths = {"annotations": str(folder / "infoseek_val.jsonl"), "images": str(folder / "oven_images")}
    first = load_benchmark(write_suite(tmp_path, "infoseek_small", "infoseek", paths, {"size": 3, "seed": 7}))
    again = load_benchmark(write_suite(tmp_path, "infoseek_small", "infoseek", paths, {"size": 3, "seed": 7}))
    chosen = {s.source_id for s in first.samples} | {where.split("(")[-1].rstrip(")") for where, _ in first.skipped}
    assert [s.id for s in first.samples] == [s.id for s in again.samples]
    assert first.data_hash == again.data_hash
    assert len(chosen & {f"infoseek_val_0000000{i}" for i in range(1, 7)}) == 3  # 3 of the 6 val questions
    assert "infoseek_train_00000000" not in chosen
    assert first.subset_rule.startswith("a seeded random 3 of the 6 val-split questions")
    assert "subset seed 7" in first.subset_rule


def test_infoseek_subset_file_keeps_every_row_of_the_papers_parquet(tmp_path: Path) -> None:
    """The MMSearch-R1 subset file is in the official layout; the shared fixture holds real rows of it."""
    suite = write_suite(tmp_path, "infoseek_paper", "infoseek", {"subset_file": str(OFFICIAL_FIXTURE)})
    bench = load_benchmark(suite)
    assert len(bench) == 5 and bench.skipped == []
    assert {s.answer for s in bench.samples} >= {"Spain", "Gautama Buddha", "Portugal"}
    assert "every question" in bench.subset_rule


def test_mmsearch_keeps_only_questions_with_an_image(tree: Path) -> None:
    bench = load_benchmark("mmsearch")
    by_id = {s.source_id: s for s in bench.samples}
    assert sorted(by_id) == ["0", "2", "5"]  # 1 and 4 are text-only, 3 has a broken image
    car = by_id["0"]
    assert car.id == "mmsearch:0" and car.split == "end2end"
    assert (car.question, car.answer) == ("Which team does the car in the image race for?", "Red Bull")
    assert car.aliases == ["Red Bull Racing", "Oracle Red Bull Racing"]
    assert car.meta["mmsearch"] == {
        "area": "news",
        "subfield": "sports",
        "timestamp": "2024-07-21",
        "gt_requery": "F1 team livery 2024",
    }
    assert car.image == image_bytes(21)
    assert bench.subset_rule == "the 4 of 6 questions in end2end.parquet that come with a query image"
    assert [where for where, _ in bench.skipped] == ["end2end.parquet:3 (3)"]


def test_simplevqa_keeps_only_english_questions(tree: Path) -> None:
    bench = load_benchmark("simplevqa")
    by_id = {s.source_id: s for s in bench.samples}
    assert sorted(by_id) == ["1", "2", "6"]  # 0 and 4 are Chinese; "en" matches EN
    ben = by_id["1"]
    assert (ben.id, ben.question, ben.answer, ben.aliases) == (
        "simplevqa:1",
        "What is the name of the clock tower in the image?",
        "Big Ben",
        [],
    )
    assert ben.split == "test"
    assert ben.meta["simplevqa"]["original_category"] == "Geography_Landmarks"
    assert ben.meta["simplevqa"]["atomic_fact"] == "Elizabeth Tower"
    assert ben.image == image_bytes(42)
    assert bench.subset_rule == "the 4 of 7 questions in test.parquet whose language is EN"


def test_simplevqa_reads_the_same_records_as_json(tree: Path, tmp_path: Path) -> None:
    rows = pq.read_table(tree / "simplevqa" / "test.parquet").to_pylist()
    (tmp_path / "simpleVQA_final_modified.json").write_text(json.dumps(rows), encoding="utf-8")
    suite = write_suite(tmp_path, "simplevqa_json", "simplevqa", {"data": "simpleVQA_final_modified.json"})
    assert load_benchmark(suite).data_hash == load_benchmark("simplevqa").data_hash


def test_livevqa_maps_the_research_preview_layout(tree: Path) -> None:
    bench = load_benchmark("livevqa")
    by_id = {s.source_id: s for s in bench.samples}
    assert sorted(by_id) == ["Movies_2_2", "Sports_1_1", "Sports_2_1"]
    club = by_id["Sports_1_1"]
    assert (club.id, club.answer, club.aliases, club.split) == (
        "livevqa:Sports_1_1",
        "Real Madrid",
        ["Real Madrid CF"],
        "test",
    )
    assert club.meta["livevqa"]["section"] == "Sports"
    assert club.meta["livevqa"]["topic"] == "Weekend football results"
    assert club.image == image_bytes(12, fmt="PNG")  # found by the file name of the authors' absolute path
    assert bench.subset_rule == "the 5 of 5 questions of qa.json"


def test_livevqa_sections_narrow_the_subset(tree: Path, tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path, "livevqa_sports", "livevqa", {"root": str(tree / "livevqa")}, {"sections": ["Sports"]}
    )
    bench = load_benchmark(suite)
    assert sorted(s.source_id for s in bench.samples) == ["Sports_1_1", "Sports_2_1"]
    assert bench.subset_rule == "the 2 of 5 questions of qa.json in sections Sports"


def test_demo_loads_every_seed_question() -> None:
    bench = load_benchmark(DEFAULT_BENCHMARK)
    questions = load_world_spec().questions
    assert bench.name == "demo" and len(bench) == len(questions) and bench.skipped == []
    assert {s.source_id for s in bench.samples} == {q.id for q in questions}
    assert all(s.category is not None for s in bench.samples)  # the only benchmark with fvqa categories
    assert bench.subset_rule.startswith(f"all {len(questions)} seed questions")


# --- bad rows, --limit and the data hash, for every benchmark -----------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("fvqa_test", {"fvqa_test.parquet:2": "question", "fvqa_test.parquet:3": "image"}),
        (
            "infoseek",
            {
                "infoseek_val.jsonl:4 (infoseek_val_00000004)": "image 'oven_09999999' not found",
                "infoseek_val.jsonl:5 (infoseek_val_00000005)": "empty question",
                "infoseek_val.jsonl:7": "not valid JSON",
            },
        ),
        ("mmsearch", {"end2end.parquet:3 (3)": "image"}),
        ("simplevqa", {"test.parquet:3 (3)": "not base64", "test.parquet:5 (5)": "no language"}),
        ("livevqa", {"qa.json[2] (News_3_1)": "not found", "qa.json[3] (News_4_2)": "empty question"}),
    ],
)
def test_bad_rows_are_skipped_with_a_reason(name: str, expected: dict[str, str]) -> None:
    skipped = skipped_ids(load_benchmark(name))
    assert sorted(skipped) == sorted(expected)
    for where, words in expected.items():
        assert words in skipped[where], (where, skipped[where])


@pytest.mark.parametrize("name", REGISTERED)
def test_limit_is_a_stable_seeded_subset(name: str) -> None:
    full = load_benchmark(name)
    first = load_benchmark(name, limit=2, seed=3)
    again = load_benchmark(name, limit=2, seed=3)
    assert [s.id for s in first.samples] == [s.id for s in again.samples]
    assert first.data_hash == again.data_hash != full.data_hash
    assert {s.id for s in first.samples} <= {s.id for s in full.samples} | {w for w, _ in full.skipped}
    assert 1 <= len(first) <= 2
    assert "--limit 2" in first.subset_rule and "(seed 3)" in first.subset_rule


def test_limit_depends_on_the_seed_and_never_on_row_order() -> None:
    ids = {seed: [s.id for s in load_benchmark("demo", limit=10, seed=seed).samples] for seed in (0, 1)}
    assert ids[0] != ids[1]
    rows = [Row(f"k{i}", "", lambda: None) for i in range(50)]  # type: ignore[arg-type, return-value]
    forward = {r.key for r in pick(rows, 5, seed=0)}
    assert forward == {r.key for r in pick(list(reversed(rows)), 5, seed=0)}


def test_limit_must_be_positive() -> None:
    with pytest.raises(BenchmarkError, match="at least 1"):
        load_benchmark("demo", limit=0)


@pytest.mark.parametrize("name", REGISTERED)
def test_data_hash_is_stable_across_loads(name: str) -> None:
    first, again = load_benchmark(name), load_benchmark(name)
    assert first.data_hash == again.data_hash
    assert first.data_hash.startswith("sha256:") and len(first.data_hash) == 7 + 64


def test_data_hash_follows_content_not_order(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / "livevqa"
    shutil.copytree(tree / "livevqa", root)
    suite = write_suite(tmp_path, "livevqa_copy", "livevqa", {"root": "livevqa"})
    original = load_benchmark(suite).data_hash
    qa = json.loads((root / "qa.json").read_text())
    (root / "qa.json").write_text(json.dumps(list(reversed(qa))))
    assert load_benchmark(suite).data_hash == original
    qa[0]["gt_answer"] = "March 22, 2026"
    (root / "qa.json").write_text(json.dumps(qa))
    assert load_benchmark(suite).data_hash != original
    qa[0]["gt_answer"] = "March 15, 2026"
    (root / "qa.json").write_text(json.dumps(qa))
    (root / "image" / "859587b317_Conan.jpg").write_bytes(image_bytes(99))
    assert load_benchmark(suite).data_hash != original


def test_data_hash_matches_an_fvqa_dataset_of_the_same_samples(tmp_path: Path) -> None:
    demo = load_benchmark("demo")
    manifest = dataset_io.write_dataset(demo.samples, tmp_path / "seed")
    from_folder = load_benchmark(tmp_path / "seed")
    assert demo.data_hash == manifest["content_hash"] == from_folder.data_hash


# --- finding benchmarks ---------------------------------------------------------------------------


def test_registered_suites_are_complete_and_cite_their_source() -> None:
    files = sorted(benchmarks_dir().glob("*.yaml"))
    assert {f.stem for f in files} == set(REGISTERED)
    for file in files:
        suite = read_suite(file)
        assert suite.name == file.stem and suite.loader in LOADERS
        assert suite.source and suite.description and suite.layout_note
        assert suite.assumed_layout is (suite.name == "livevqa")


def test_load_by_name_by_yaml_path_and_by_dataset_path(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_name = load_benchmark("mmsearch")
    by_yaml = load_benchmark(benchmarks_dir() / "mmsearch.yaml")
    assert by_yaml.data_hash == by_name.data_hash and by_yaml.source == by_name.source
    by_dataset = load_benchmark(tree / "fvqa_test" / "fvqa_test.parquet")
    assert by_dataset.name == "fvqa_test" and by_dataset.data_hash == load_benchmark("fvqa_test").data_hash
    assert by_dataset.source.startswith("local dataset ")
    custom = tmp_path / "suites"
    custom.mkdir()
    write_suite(custom, "my_mmsearch", "mmsearch", {"data": "${FVQA_DATA_DIR}/mmsearch/end2end.parquet"})
    monkeypatch.setenv("FVQA_BENCHMARKS_DIR", str(custom))
    mine = load_benchmark("my_mmsearch")
    assert mine.name == "my_mmsearch" and mine.data_hash == by_name.data_hash


def test_suite_paths_expand_variables_defaults_and_relative_paths(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FVQA_NOT_SET", raising=False)
    with_default = write_suite(
        tmp_path, "a", "mmsearch", {"data": f"${{FVQA_NOT_SET:-{tree}}}/mmsearch/end2end.parquet"}
    )
    assert read_suite(with_default).paths["data"] == tree / "mmsearch" / "end2end.parquet"
    shutil.copy(tree / "mmsearch" / "end2end.parquet", tmp_path / "end2end.parquet")
    relative = write_suite(tmp_path, "b", "mmsearch", {"data": "end2end.parquet"})
    assert read_suite(relative).paths["data"] == tmp_path.resolve() / "end2end.parquet"
    unset = write_suite(tmp_path, "c", "mmsearch", {"data": "${FVQA_NOT_SET}/end2end.parquet"})
    with pytest.raises(BenchmarkError, match=r"FVQA_NOT_SET.*not set"):
        load_benchmark(unset)


def test_unknown_names_loaders_and_missing_paths_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="neither a registered benchmark"):
        load_benchmark("no_such_benchmark")
    with pytest.raises(BenchmarkError, match="unknown loader"):
        load_benchmark(write_suite(tmp_path, "x", "not_a_loader", {}))
    with pytest.raises(FileNotFoundError, match=r"paths\.data"):
        load_benchmark(write_suite(tmp_path, "y", "mmsearch", {"data": "missing.parquet"}))
    (tmp_path / "bad.yaml").write_text("loader: demo\npaths: {}\nsubsets: {}\n")
    with pytest.raises(BenchmarkError, match="unknown keys"):
        load_benchmark(tmp_path / "bad.yaml")


def test_a_benchmark_without_usable_rows_is_an_error(tree: Path, tmp_path: Path) -> None:
    empty = tmp_path / "images"
    empty.mkdir()
    paths = {"annotations": str(tree / "infoseek" / "infoseek_val.jsonl"), "images": str(empty)}
    with pytest.raises(BenchmarkError, match="no usable samples"):
        load_benchmark(write_suite(tmp_path, "no_images", "infoseek", paths))


def test_describe_names_what_a_result_file_records() -> None:
    info = load_benchmark("demo", limit=3).describe()
    assert set(info) == {"name", "data_hash", "samples", "subset_rule", "source", "skipped"}
    assert info["samples"] == 3 and info["name"] == "demo"
