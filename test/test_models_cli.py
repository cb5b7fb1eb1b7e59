"""python -m core_model.models: list --json, download from a loopback catalogue (progress on stderr, the
path last), import, remove, verify; bad input and failed downloads are one line on stderr, exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core_model.models import git_blob_id
from core_model.models.cli import main
from core_model.cli.running import run
from loopback_http import LoopbackServer
from models_fixtures import REPO_ROOT, tiny_checkpoints, write_catalogue  # noqa: F401 - fixture


def _run(argv, capsys):
    with pytest.raises(SystemExit) as ended:
        run(lambda: main(argv))
    out = capsys.readouterr()
    return ended.value.code, out.out, out.err


def test_list_json_names_every_model_and_where_it_is(tmp_path, capsys):
    code, out, err = _run(["list", "--json", "--dir", str(tmp_path)], capsys)
    assert code == 0 and err == ""
    models = {m["name"]: m for m in json.loads(out)["models"]}
    assert models["aval_slf"]["installed"] is None and models["aval_slf"]["avalanche"] is True
    assert models["default"]["installed"].endswith("avalanche_iseg_default.pth")
    assert models["coco_lvis_h32_itermask"]["unpinned"] is True
    assert models["aval_slf"]["settings"] == {"zoom_in": False, "threshold": 0.5, "max_longest_side": 800}


def test_download_from_a_loopback_catalogue_then_list_verify_remove(tmp_path, tiny_checkpoints, capsys):
    a, _ = tiny_checkpoints
    with LoopbackServer({"/snow.pth": a.read_bytes()}) as srv:
        cat = write_catalogue(tmp_path / "inst.json", [
            {"name": "snow", "urls": [srv.url("/snow.pth")], "git_blob": git_blob_id(a), "trained_on": "snow"}])
        d = str(tmp_path / "models")
        code, out, err = _run(["download", "snow", "--catalogue", str(cat), "--dir", d], capsys)
    assert code == 0
    assert out.strip().splitlines()[-1] == str(tmp_path / "models" / "snow.pth")
    assert "MB" in err and "100 %" in err  # progress on stderr
    code, out, _ = _run(["list", "--json", "--catalogue", str(cat), "--dir", d], capsys)
    listed = {m["name"]: m for m in json.loads(out)["models"]}
    assert listed["snow"]["installed"] == str(tmp_path / "models" / "snow.pth")
    code, out, _ = _run(["verify", "--catalogue", str(cat), "--dir", d], capsys)
    assert code == 0 and "ok   snow:" in out
    (tmp_path / "models" / "snow.pth").write_bytes(b"changed")
    code, out, _ = _run(["verify", "snow", "--catalogue", str(cat), "--dir", d], capsys)
    assert code == 1 and "FAIL snow:" in out
    code, out, _ = _run(["remove", "snow", "--catalogue", str(cat), "--dir", d], capsys)
    assert code == 0 and "snow.pth" in out and not (tmp_path / "models" / "snow.pth").exists()


def test_import_prints_the_installed_path_last(tmp_path, tiny_checkpoints, capsys):
    _, b = tiny_checkpoints
    code, out, err = _run(["import", str(b), "--name", "mine", "--dir", str(tmp_path)], capsys)
    assert code == 0 and out.strip().splitlines()[-1] == str(tmp_path / "mine.pth")
    assert "custom model mine" in err


@pytest.mark.parametrize("argv, words", [
    (["download", "no_such_model"], "There is no model named 'no_such_model'"),
    (["download", "default"], "bundled"),
    (["remove", "aval_slf"], "is not installed"),
    (["verify", "aval_slf"], "is not installed"),
    (["import", "/no/such/file.pth"], "does not exist"),
    (["list", "--catalogue", "/no/such/catalogue.json"], "does not exist"),
    (["list", "--bogus"], "unrecognized arguments"),
    ([], "required"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, words):
    code, out, err = _run(argv + (["--dir", str(tmp_path)] if argv else []), capsys)
    assert code == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_failed_download_is_one_line_and_exit_2(tmp_path, tiny_checkpoints, capsys):
    a, _ = tiny_checkpoints
    tampered = bytearray(a.read_bytes())
    tampered[-10] ^= 0xFF
    with LoopbackServer({"/snow.pth": bytes(tampered)}) as srv:
        cat = write_catalogue(tmp_path / "inst.json", [
            {"name": "snow", "urls": [srv.url("/snow.pth"), srv.url("/gone.pth")], "git_blob": git_blob_id(a)}])
        code, out, err = _run(["download", "snow", "--catalogue", str(cat), "--dir", str(tmp_path / "m")], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("error: Model snow could not be downloaded")
    assert "deleted" in last and "HTTP 404" in last and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == []


def test_the_module_runs_as_a_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "core_model.models", "download", "nope", "--dir", str(tmp_path)],
                         capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and out.stderr.startswith("error: There is no model")
