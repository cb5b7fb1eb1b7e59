"""Importing a local model file: a catalogue entry recognised by its git blob id, the bundled model, an
unpinned entry by its file name and architecture, a custom model after the safe load, hostile files
refused with nothing left; remove and verify."""
from __future__ import annotations

import json
import pickle

import pytest

from core_model.errors import CatalogueError, CheckpointError
from core_model.models import Catalogue, ModelEntry, ModelStore, git_blob_id, load_catalogue
from models_fixtures import tiny_checkpoints, write_catalogue  # noqa: F401 - fixture


@pytest.fixture
def store_with_entry(tmp_path, tiny_checkpoints):
    a, _ = tiny_checkpoints
    cat_file = write_catalogue(tmp_path / "inst.json", [
        {"name": "snow_tiny", "urls": ["https://mirror.invalid/snow_tiny.pth"], "git_blob": git_blob_id(a),
         "trained_on": "snow", "architecture": "hrnet8s", "settings": {"zoom_in": False, "threshold": 0.5}}])
    return ModelStore(tmp_path / "models", load_catalogue([cat_file], use_env=False))


def _left(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_import_recognises_a_catalogue_entry_by_its_id(tmp_path, tiny_checkpoints, store_with_entry):
    a, _ = tiny_checkpoints
    renamed = tmp_path / "whatever I called it.pth"
    renamed.write_bytes(a.read_bytes())
    info, kind = store_with_entry.import_file(renamed)
    assert kind == "catalogue" and info.name == "snow_tiny" and not info.custom
    assert info.installed == store_with_entry.folder / "snow_tiny.pth"
    assert info.installed.read_bytes() == a.read_bytes()
    assert store_with_entry.preset("snow_tiny") == {"zoom_in": False, "threshold": 0.5}
    assert info.entry.trained_on == "snow"
    assert _left(store_with_entry.folder) == ["snow_tiny.json", "snow_tiny.pth"]


def test_an_unknown_file_becomes_a_custom_model(tmp_path, tiny_checkpoints, store_with_entry):
    _, b = tiny_checkpoints
    info, kind = store_with_entry.import_file(b)
    assert kind == "custom" and info.name == "tiny_b" and info.custom
    assert info.entry.architecture == "hrnet8s" and info.entry.git_blob == git_blob_id(b)
    assert info.entry.settings == {}
    # listed (from its record) after the catalogue's entries, also by a store that is made afresh
    fresh = ModelStore(store_with_entry.folder, load_catalogue(use_env=False))
    listed = {i.name: i for i in fresh.models()}
    assert listed["tiny_b"].custom and listed["tiny_b"].installed == info.installed
    assert fresh.verify("tiny_b").ok
    named, _ = store_with_entry.import_file(b, name="ours-v2")
    assert named.name == "ours-v2"
    with pytest.raises(CatalogueError, match="name of a catalogue model"):
        store_with_entry.import_file(b, name="aval_slf")


def test_an_unpinned_entry_is_accepted_by_name_and_architecture(tmp_path, tiny_checkpoints):
    a, _ = tiny_checkpoints
    cat = Catalogue([ModelEntry(name="unp", urls=("https://r.invalid/v1.0/unp_file.pth",), architecture="hrnet8s"),
                     ModelEntry(name="unp32", urls=("https://r.invalid/v1.0/other.pth",), architecture="hrnet32")])
    store = ModelStore(tmp_path / "models", cat)
    src = tmp_path / "unp_file.pth"
    src.write_bytes(a.read_bytes())
    info, kind = store.import_file(src)
    assert kind == "unpinned" and info.name == "unp" and info.unpinned
    other = tmp_path / "other.pth"
    other.write_bytes(a.read_bytes())
    info, kind = store.import_file(other)  # named like unp32's file but not an hrnet32: a custom model
    assert kind == "custom" and info.name == "other"


def test_the_bundled_model_is_recognised(tmp_path):
    from core_model.default_model import DEFAULT_CHECKPOINT
    store = ModelStore(tmp_path / "models", load_catalogue(use_env=False))
    info, kind = store.import_file(DEFAULT_CHECKPOINT)
    assert kind == "bundled" and info.name == "default" and _left(tmp_path / "models") == []


@pytest.mark.parametrize("content", [
    b"just some text, not a checkpoint",
    pickle.dumps({"state_dict": {}, "config": {}}, protocol=2)[:20],
    b"c__builtin__\neval\n(S'print(1)'\ntR.",
])
def test_hostile_or_foreign_files_are_refused_and_nothing_is_left(tmp_path, content, store_with_entry):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        store_with_entry.import_file(bad)
    assert "\n" not in str(err.value)
    assert _left(store_with_entry.folder) == []


def test_remove_and_verify(tmp_path, tiny_checkpoints, store_with_entry):
    a, _ = tiny_checkpoints
    info, _ = store_with_entry.import_file(a)
    assert store_with_entry.verify("snow_tiny").ok
    data = bytearray(info.installed.read_bytes())
    data[100] ^= 1
    info.installed.write_bytes(bytes(data))
    result = store_with_entry.verify("snow_tiny")
    assert not result.ok and result.expected == git_blob_id(a) and "download or import it again" in result.message
    removed = store_with_entry.remove("snow_tiny")
    assert sorted(p.name for p in removed) == ["snow_tiny.json", "snow_tiny.pth"]
    assert _left(store_with_entry.folder) == []
    with pytest.raises(CatalogueError, match="not installed"):
        store_with_entry.remove("snow_tiny")
    with pytest.raises(CatalogueError, match="cannot be removed"):
        store_with_entry.remove("default")
    record_free = store_with_entry.folder / "by_hand.pth"
    record_free.write_bytes(a.read_bytes())
    assert store_with_entry.info("by_hand").installed == record_free  # a file placed by hand is listed too
    assert json.loads(json.dumps(store_with_entry.info("by_hand").to_json()))["installed"] == str(record_free)


def test_a_real_ritm_checkpoint_imports_as_a_custom_model(tmp_path, shared):
    ref = shared("ritm_reference", "hrnet18_itermask_ref.pth")
    store = ModelStore(tmp_path / "models", load_catalogue(use_env=False))
    info, kind = store.import_file(ref)
    assert kind == "custom" and info.entry.architecture == "hrnet18"  # the avalanche checkpoints' architecture
    assert info.installed.read_bytes() == ref.read_bytes() and store.verify(info.name).ok
