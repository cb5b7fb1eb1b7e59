"""The model catalogue: the shipped entries are the issue's facts (ids, URLs, presets), the blob id is
git's, catalogue files merge by name (the file wins), presets name real PredictorSettings fields, and the
package imports without torch."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from core_model.errors import CatalogueError
from core_model.models import (PRESET_FIELDS, git_blob_id, git_blob_id_of_bytes, load_catalogue, parse_catalogue,
                               resolve_preset)
from models_fixtures import write_catalogue

FORK = "https://raw.githubusercontent.com/aval-e/InteractiveAvalancheSegmentation/5e3f3659c2269401f1d49b42e5c2dd1977f09f97/"
RELEASE = "https://github.com/SamsungLabs/ritm_interactive_segmentation/releases/download/v1.0/"
ISSUE_IDS = {  # issue 24: "the ids were read from the repositories' trees"
    "aval_slf": ("checkpoints/082_epo090.pth", "78575c45a4306f701dcc0a3966dbcfc6fb5851f1"),
    "aval_uibk": ("checkpoints/116_epo090.pth", "fcd482a95ff1d992f829938a80782b8e374e1277"),
    "aval_slf_uibk": ("checkpoints/115_epo095.pth", "9507871d965949df19f0afa56c303a5abecc312c"),
    "coco_lvis_h18s_itermask": (None, "4ce03fbea3bb2ea9656d3395762c3c2044524002"),
    "coco_lvis_h18_itermask": (None, "644200a8cac6cd2d9cae887221291ea5864d9d33"),
    "coco_lvis_h18_baseline": (None, "35124d030931747dc1e421f523c53ec75f6f4a50"),
    "sbd_h18_itermask": (None, "affba1b47461b3ae0d2a905c8c2d0ba628c1dc90"),
}


@pytest.mark.parametrize("content", [b"", b"hello\n", bytes(range(256)) * 5000])
def test_blob_id_is_what_git_hash_object_prints(tmp_path, content):
    path = tmp_path / "f.bin"
    path.write_bytes(content)
    expected = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert git_blob_id(path, chunk=4096) == expected == git_blob_id_of_bytes(content)


def test_shipped_entries_are_the_issues_facts():
    cat = load_catalogue(use_env=False)
    assert cat.names() == ["default", "aval_slf", "aval_uibk", "aval_slf_uibk", "coco_lvis_h18s_itermask",
                           "coco_lvis_h18_itermask", "coco_lvis_h18_baseline", "sbd_h18_itermask",
                           "coco_lvis_h32_itermask"]
    for name, (fork_path, blob) in ISSUE_IDS.items():
        entry = cat.get(name)
        assert entry.git_blob == blob and not entry.unpinned
        if fork_path:
            assert entry.urls == (FORK + fork_path,)
            assert entry.avalanche and entry.architecture == "hrnet18"
            assert entry.settings == {"zoom_in": False, "threshold": 0.5, "max_longest_side": 800}
        else:
            assert entry.urls == (RELEASE + name + ".pth", FORK + "weights/" + name + ".pth")
            assert entry.settings == {} and not entry.avalanche
    h32 = cat.get("coco_lvis_h32_itermask")
    assert h32.unpinned and h32.urls == (RELEASE + "coco_lvis_h32_itermask.pth",) and h32.architecture == "hrnet32"
    assert cat.get("coco_lvis_h18s_itermask").published["GrabCut"] == {"NoC@85": 1.54, "NoC@90": 1.68}
    assert cat.get("coco_lvis_h18s_itermask").published["COCO_MVal"] == {"NoC@90": 3.33}
    assert cat.get("coco_lvis_h32_itermask").published["DAVIS"] == {"NoC@85": 4.11, "NoC@90": 5.34}
    default = cat.get("default")
    assert default.source == "bundled" and default.card.endswith("MODEL_CARD.md")
    assert cat.by_blob(ISSUE_IDS["aval_uibk"][1]).name == "aval_uibk"


def test_preset_fields_are_predictor_settings_fields():
    from core_model.predictor import PredictorSettings
    fields = {f.name for f in dataclasses.fields(PredictorSettings)}
    assert set(PRESET_FIELDS) == fields - {"brs_mode"}
    for entry in load_catalogue(use_env=False):
        PredictorSettings(**entry.settings)  # every shipped preset builds


def test_a_catalogue_file_joins_the_shipped_ones_and_wins_on_a_name(tmp_path, monkeypatch):
    blob = "a" * 40
    mirror = write_catalogue(tmp_path / "inst.json", [
        {"name": "aval_slf", "urls": ["https://mirror.example/082.pth"], "git_blob": blob, "licence": "internal",
         "settings": {"zoom_in": False, "threshold": 0.6, "max_longest_side": 1200}},
        {"name": "our_finetune", "urls": ["https://mirror.example/ours.pth"], "git_blob": "b" * 40}])
    cat = load_catalogue([mirror], use_env=False)
    slf = cat.get("aval_slf")
    assert slf.urls == ("https://mirror.example/082.pth",) and slf.git_blob == blob and slf.licence == "internal"
    assert slf.settings["threshold"] == 0.6 and slf.source == str(mirror)
    assert cat.names().index("aval_slf") == 1 and cat.names()[-1] == "our_finetune"
    assert cat.get("aval_uibk").source == "shipped"
    monkeypatch.setenv("AVALANCHE_ISEG_CATALOGUE", str(mirror))
    assert load_catalogue().get("aval_slf").git_blob == blob


@pytest.mark.parametrize("models, words", [
    ([{"name": "x", "urls": ["https://a/x.pth"]}], "has no git_blob"),
    ([{"name": "x", "urls": ["https://a/x.pth"], "git_blob": "123"}], "not 40 hexadecimal digits"),
    ([{"name": "x", "git_blob": "a" * 40}], "has no urls"),
    ([{"name": "../evil", "urls": ["https://a/x.pth"], "git_blob": "a" * 40}], "is not usable"),
    ([{"name": "x", "urls": ["ftp://a/x.pth"], "git_blob": "a" * 40}], "not an http(s) or file URL"),
    ([{"name": "x", "urls": ["https://a/x.pth"], "git_blob": "a" * 40, "settings": {"zoom": 1}}],
     "Unknown predictor setting 'zoom'"),
    ([{"name": "x", "urls": ["https://a/x.pth"], "git_blob": "a" * 40, "settings": {"zoom_in": "no"}}],
     "is 'no', which is not a bool"),
    ([{"name": "default", "urls": ["https://a/x.pth"], "git_blob": "a" * 40}], "bundled model's name"),
])
def test_bad_catalogue_entries_are_one_sentence(models, words):
    with pytest.raises(CatalogueError) as err:
        parse_catalogue(json.dumps({"models": models}), "inst.json")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unreadable_catalogues(tmp_path):
    with pytest.raises(CatalogueError, match="is not valid JSON"):
        parse_catalogue("{", "x.json")
    with pytest.raises(CatalogueError, match="must be a JSON object"):
        parse_catalogue("[]", "x.json")
    with pytest.raises(CatalogueError, match="does not exist"):
        load_catalogue([tmp_path / "missing.json"], use_env=False)


def test_presets_by_name_and_by_file(tmp_path):
    assert resolve_preset("aval_uibk") == {"zoom_in": False, "threshold": 0.5, "max_longest_side": 800}
    assert resolve_preset("coco_lvis_h18_itermask") == {}
    flat = tmp_path / "p.json"
    flat.write_text('{"zoom_in": true, "zoom_target_size": 600}')
    assert resolve_preset(str(flat)) == {"zoom_in": True, "zoom_target_size": 600}
    nested = tmp_path / "entry.json"
    nested.write_text('{"name": "x", "settings": {"threshold": 0.7}}')
    assert resolve_preset(str(nested)) == {"threshold": 0.7}
    with pytest.raises(CatalogueError, match="neither a catalogue model"):
        resolve_preset("no_such_model")


def test_the_package_imports_without_torch(tmp_path):
    code = ("import sys, core_model.models as m; from core_model.models import cli; "
            "s = m.ModelStore(sys.argv[1]); s.models(); m.resolve_preset('aval_slf'); "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
