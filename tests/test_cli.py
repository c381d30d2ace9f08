"""The command line as a user runs it: a real subprocess, real files, exit codes."""

import json
import subprocess
import sys

import pyarrow.parquet as pq

from tests.conftest import image_bytes


def fvqa(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fvqa", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


def test_convert_official_to_fvqa_and_back(official_fixture, tmp_path):
    done = fvqa("convert", str(official_fixture), str(tmp_path / "ds"), "--to", "fvqa")
    assert done.returncode == 0, done.stderr
    assert "wrote 5 samples" in done.stdout
    done = fvqa("convert", str(tmp_path / "ds"), str(tmp_path / "back.parquet"), "--to", "official")
    assert done.returncode == 0, done.stderr
    assert pq.read_table(tmp_path / "back.parquet").to_pylist() == pq.read_table(official_fixture).to_pylist()


def test_convert_refuses_an_unknown_target_format(official_fixture, tmp_path):
    done = fvqa("convert", str(official_fixture), str(tmp_path / "x"), "--to", "csv")
    assert done.returncode == 2
    assert "--to must be official or fvqa" in done.stderr


def test_convert_skips_bad_rows_and_lists_them(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(image_bytes(1))
    (tmp_path / "imgs" / "b.jpg").write_bytes(b"not an image")
    rows = [
        {"file_name": "a.jpg", "question": "What is this?", "answer": "a picture"},
        {"file_name": "b.jpg", "question": "And this?", "answer": "nothing"},
    ]
    (tmp_path / "imgs" / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    done = fvqa("convert", str(tmp_path / "imgs"), str(tmp_path / "out.parquet"), "--to", "official")
    assert done.returncode == 1
    assert "read 2 rows, wrote 1 samples" in done.stdout
    assert "1 rows rejected" in done.stderr and "b.jpg" in done.stderr
    rejects = [json.loads(line) for line in (tmp_path / "out.parquet.rejects.jsonl").read_text().splitlines()]
    assert rejects == [{"location": "metadata.jsonl:1 (b.jpg)", "sample_id": "imgs:b", "reason": rejects[0]["reason"]}]
    assert "not an image" in rejects[0]["reason"]
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 1


def test_validate_exit_status_and_json_report(official_fixture, tmp_path):
    done = fvqa("validate", str(official_fixture), "--json", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stdout
    assert "clean" in done.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["counts"]["rows"] == 5 and report["clean"] is True

    strict = fvqa("validate", str(official_fixture), "--strict")  # no categories: warnings
    assert strict.returncode == 1

    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "empty.jpg").write_bytes(b"")
    (tmp_path / "imgs" / "ok.png").write_bytes(image_bytes(1, fmt="PNG"))
    done = fvqa("validate", str(tmp_path / "imgs"))
    assert done.returncode == 1
    assert "empty.jpg" in done.stdout and "empty" in done.stdout and "not clean" in done.stdout


def test_validate_names_a_missing_path(tmp_path):
    done = fvqa("validate", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "error:" in done.stderr and "nowhere does not exist" in done.stderr
    assert "Traceback" not in done.stderr
