"""Downloading catalogue models from a loopback HTTP server: progress, a cut connection resumed with an
HTTP Range request (at once and by a later call), Cancel, tampered bytes refused with nothing left
behind, mirrors tried in order, unpinned entries checked by the safe load, the proxy variables."""
from __future__ import annotations

import threading

import pytest

from core_model.errors import DownloadCancelled, ModelDownloadError
from core_model.models import Catalogue, ModelEntry, ModelStore, download_entry, git_blob_id, git_blob_id_of_bytes, load_catalogue
from loopback_http import LoopbackServer
from models_fixtures import tiny_checkpoints, write_catalogue  # noqa: F401 - fixture


@pytest.fixture
def tiny(tiny_checkpoints):
    path = tiny_checkpoints[0]
    return path.read_bytes(), git_blob_id(path)


def _entry(url, blob, **kw):
    return ModelEntry(name=kw.pop("name", "tiny"), urls=tuple(url if isinstance(url, list) else [url]), git_blob=blob,
                      **kw)


def _left(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_reports_progress_verifies_and_installs(tmp_path, tiny):
    data, blob = tiny
    seen = []
    with LoopbackServer({"/m/tiny.pth": data}) as srv:
        path = download_entry(_entry(srv.url("/m/tiny.pth"), blob), tmp_path / "models",
                              progress=lambda done, total, speed: seen.append((done, total, speed)))
    assert path == tmp_path / "models" / "tiny.pth"
    assert path.read_bytes() == data
    assert _left(tmp_path / "models") == ["tiny.json", "tiny.pth"]
    dones = [d for d, _, _ in seen]
    assert dones == sorted(dones) and dones[-1] == len(data) and len(seen) > 3  # 256 KiB chunks of 2.3 MB
    assert {t for _, t, _ in seen} == {len(data)}
    assert seen[-1][2] > 0
    info = ModelStore(tmp_path / "models", load_catalogue([], use_env=False)).info("tiny")
    assert info.installed == path and not info.custom and info.entry.git_blob == blob


def test_a_cut_connection_is_resumed_with_a_range_request(tmp_path, tiny):
    data, blob = tiny
    with LoopbackServer({"/tiny.pth": data}) as srv:
        srv.cut_after["/tiny.pth"] = 1_000_000
        path = download_entry(_entry(srv.url("/tiny.pth"), blob), tmp_path)
        assert srv.requests == [("/tiny.pth", None), ("/tiny.pth", "bytes=1000000-")]
    assert path.read_bytes() == data


def test_a_partial_file_left_by_a_failed_call_is_resumed_by_the_next(tmp_path, tiny):
    data, blob = tiny
    with LoopbackServer({"/tiny.pth": data}) as srv:
        entry = _entry(srv.url("/tiny.pth"), blob)
        srv.cut_after["/tiny.pth"] = 700_000
        with pytest.raises(ModelDownloadError, match="could not be downloaded: The connection"):
            download_entry(entry, tmp_path, retries=0)
        assert _left(tmp_path) == ["tiny.pth.part"]
        assert (tmp_path / "tiny.pth.part").stat().st_size == 700_000
        assert ModelStore(tmp_path, Catalogue([entry])).info("tiny").partial_bytes == 700_000  # the dialog shows it
        path = download_entry(entry, tmp_path)
        assert srv.requests[-1] == ("/tiny.pth", "bytes=700000-")
    assert path.read_bytes() == data and _left(tmp_path) == ["tiny.json", "tiny.pth"]


def test_a_server_that_ignores_range_restarts_from_zero(tmp_path, tiny):
    data, blob = tiny
    (tmp_path / "tiny.pth.part").write_bytes(data[:5000])
    with LoopbackServer({"/tiny.pth": data}) as srv:
        srv.httpd.honour_range = False
        path = download_entry(_entry(srv.url("/tiny.pth"), blob), tmp_path)
        assert srv.requests == [("/tiny.pth", "bytes=5000-")]
    assert path.read_bytes() == data


def test_a_whole_partial_file_gets_416_and_is_installed(tmp_path, tiny):
    data, blob = tiny
    (tmp_path / "tiny.pth.part").write_bytes(data)
    with LoopbackServer({"/tiny.pth": data}) as srv:
        path = download_entry(_entry(srv.url("/tiny.pth"), blob), tmp_path)
    assert path.read_bytes() == data


def test_cancel_keeps_the_partial_file_and_a_later_call_resumes(tmp_path, tiny):
    data, blob = tiny
    cancel = threading.Event()

    def progress(done, total, speed):
        if done >= 500_000:
            cancel.set()

    with LoopbackServer({"/tiny.pth": data}) as srv:
        entry = _entry(srv.url("/tiny.pth"), blob)
        with pytest.raises(DownloadCancelled, match="cancelled"):
            download_entry(entry, tmp_path, progress=progress, cancel=cancel)
        kept = (tmp_path / "tiny.pth.part").stat().st_size
        assert 500_000 <= kept < len(data) and not (tmp_path / "tiny.pth").exists()
        path = download_entry(entry, tmp_path, cancel=lambda: False)
        assert srv.requests[-1] == ("/tiny.pth", f"bytes={kept}-")
    assert path.read_bytes() == data


def test_tampered_bytes_are_refused_and_nothing_is_left(tmp_path, tiny):
    data, blob = tiny
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0xFF
    with LoopbackServer({"/tiny.pth": bytes(tampered)}) as srv:
        with pytest.raises(ModelDownloadError) as err:
            download_entry(_entry(srv.url("/tiny.pth"), blob), tmp_path / "models")
    text = str(err.value)
    assert git_blob_id_of_bytes(bytes(tampered)) in text and blob in text and "deleted" in text
    assert "\n" not in text and text.count(". ") == 0
    assert _left(tmp_path / "models") == []


def test_mirrors_are_tried_in_order(tmp_path, tiny):
    data, blob = tiny
    with LoopbackServer({"/mirror/tiny.pth": data, "/bad/tiny.pth": b"not a model"}) as srv:
        urls = [srv.url("/missing/tiny.pth"), srv.url("/bad/tiny.pth"), srv.url("/mirror/tiny.pth")]
        path = download_entry(_entry(urls, blob), tmp_path)
        assert [p for p, _ in srv.requests] == ["/missing/tiny.pth", "/bad/tiny.pth", "/mirror/tiny.pth"]
    assert path.read_bytes() == data
    import json
    assert json.loads((tmp_path / "tiny.json").read_text())["source"] == urls[2]


def test_every_mirror_failing_is_one_sentence_naming_each(tmp_path, tiny):
    _, blob = tiny
    with LoopbackServer({}) as srv:
        with pytest.raises(ModelDownloadError) as err:
            download_entry(_entry([srv.url("/a.pth"), srv.url("/b.pth")], blob), tmp_path)
    assert str(err.value).count("HTTP 404") == 2 and _left(tmp_path) == []


def test_a_git_lfs_pointer_is_named_as_such(tmp_path, tiny):
    _, blob = tiny
    pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 123\n"
    with LoopbackServer({"/p.pth": pointer}) as srv:
        with pytest.raises(ModelDownloadError, match="Git LFS pointer"):
            download_entry(_entry(srv.url("/p.pth"), blob), tmp_path)
    assert _left(tmp_path) == []


def test_a_size_other_than_the_catalogues_is_refused(tmp_path, tiny):
    data, blob = tiny
    with LoopbackServer({"/tiny.pth": data}) as srv:
        with pytest.raises(ModelDownloadError, match=f"offers {len(data)} bytes .* says 1234"):
            download_entry(_entry(srv.url("/tiny.pth"), blob, size=1234), tmp_path)


def test_unpinned_entries_need_the_safe_load_and_the_architecture(tmp_path, tiny):
    data, _ = tiny
    with LoopbackServer({"/ok.pth": data, "/junk.pth": b"\x80\x02junk" * 100}) as srv:
        path = download_entry(_entry(srv.url("/ok.pth"), None, architecture="hrnet8s"), tmp_path / "a")
        assert path.read_bytes() == data
        import json
        record = json.loads((tmp_path / "a" / "tiny.json").read_text())
        assert record["unpinned"] is True and record["architecture"] == "hrnet8s"
        with pytest.raises(ModelDownloadError, match="holds a hrnet8s model, not the catalogue's hrnet32"):
            download_entry(_entry(srv.url("/ok.pth"), None, architecture="hrnet32"), tmp_path / "b")
        assert _left(tmp_path / "b") == []
        with pytest.raises(ModelDownloadError, match="could not be downloaded: Checkpoint"):
            download_entry(_entry(srv.url("/junk.pth"), None, architecture="hrnet8s"), tmp_path / "c")
        assert _left(tmp_path / "c") == []


def test_the_proxy_variables_are_honoured(tmp_path, tiny, monkeypatch):
    data, blob = tiny
    url = "http://models.example.invalid/tiny.pth"
    with LoopbackServer({url: data}) as proxy:
        for var in ("no_proxy", "NO_PROXY", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("http_proxy", proxy.url(""))
        path = download_entry(_entry(url, blob), tmp_path)
        assert proxy.requests == [(url, None)]
    assert path.read_bytes() == data


def test_a_transport_can_be_swapped(tmp_path, tiny):
    """The GUI's transport (QgsNetworkAccessManager) only has to call sink.start and sink.write."""
    data, blob = tiny
    calls = []

    def fetch(url, offset, sink):
        calls.append((url, offset))
        sink.start(offset, len(data))
        for i in range(offset, len(data), 100_000):
            sink.write(data[i:i + 100_000])

    path = download_entry(_entry("https://qgis.invalid/tiny.pth", blob), tmp_path, fetch=fetch)
    assert path.read_bytes() == data and calls == [("https://qgis.invalid/tiny.pth", 0)]


def test_a_partial_file_longer_than_the_file_is_started_again(tmp_path, tiny):
    data, blob = tiny
    (tmp_path / "tiny.pth.part").write_bytes(b"x" * (len(data) + 10))
    with LoopbackServer({"/tiny.pth": data}) as srv:
        path = download_entry(_entry(srv.url("/tiny.pth"), blob), tmp_path)
        assert srv.requests == [("/tiny.pth", f"bytes={len(data) + 10}-"), ("/tiny.pth", None)]
    assert path.read_bytes() == data


def test_one_download_per_model_at_a_time(tmp_path, tiny):
    data, blob = tiny
    inside = threading.Event()
    release = threading.Event()

    def slow_fetch(url, offset, sink):
        sink.start(offset, len(data))
        inside.set()
        release.wait(10)
        sink.write(data[offset:])

    entry = _entry("https://slow.invalid/tiny.pth", blob)
    worker = threading.Thread(target=lambda: download_entry(entry, tmp_path, fetch=slow_fetch))
    worker.start()
    try:
        assert inside.wait(10)
        with pytest.raises(ModelDownloadError, match="is being downloaded already"):
            download_entry(entry, tmp_path, fetch=slow_fetch)
    finally:
        release.set()
        worker.join(10)
    assert (tmp_path / "tiny.pth").read_bytes() == data
