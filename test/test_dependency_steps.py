"""The install step's two parts and what pip may do in them: the PyTorch step uses the PyTorch index and no
other — when that index answers 503 the real pip run ends in one sentence and nothing comes from the
default index (today's defect: pip fell back to it and installed the 5.5 GB CUDA build) — and pip's output
read as progress in packages and bytes (recorded output of a real run)."""
from __future__ import annotations

import io
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from avalanche_iseg_plugin.dependencies import install as installer
from avalanche_iseg_plugin.dependencies.progress import PipProgress, package_of

DATA = Path(__file__).resolve().parent / "data" / "pip_install_digitising.txt"


def _fake_torch_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as whl:
        whl.writestr("torch/__init__.py", "CUDA_BUILD_FROM_THE_DEFAULT_INDEX = True\n")
        info = "torch-9.9.dist-info/"
        whl.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: torch\nVersion: 9.9\n")
        whl.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(info + "RECORD", "")
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    """/down/…: the PyTorch index, out of order (503); /simple/…: a default index that has a torch."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.requests.append(self.path)
        if self.path.startswith("/down/"):
            body, status, kind = b"Service Unavailable", 503, "text/plain"
        elif self.path.rstrip("/") == "/simple/torch":
            body = b'<html><body><a href="/files/torch-9.9-py3-none-any.whl">torch-9.9-py3-none-any.whl</a></body></html>'
            status, kind = 200, "text/html"
        elif self.path == "/files/torch-9.9-py3-none-any.whl":
            body, status, kind = self.server.wheel, 200, "application/octet-stream"
        else:
            body, status, kind = b"", 404, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def indexes():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests, server.wheel = [], _fake_torch_wheel()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server, base + "/down/whl/cpu", base + "/simple"
    server.shutdown()
    server.server_close()


def _env(tmp_path, **extra):
    """pip without this machine's configuration: the default index is the loopback one that has a torch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update({"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_RETRIES": "0",
                "PIP_DEFAULT_TIMEOUT": "5", "PIP_NO_CACHE_DIR": "1", **extra})
    return env


def test_the_default_index_really_offers_a_torch(tmp_path, indexes):
    """The trap is real: from the default (loopback) index pip does install a torch."""
    server, _, default = indexes
    env = _env(tmp_path, PIP_INDEX_URL=default)
    result = installer.install(str(tmp_path / "deps"), step=installer.packages_step(["torch"]), env=env)
    assert result.ok, result.log
    assert (tmp_path / "deps" / "torch" / "__init__.py").is_file()


def test_an_unreachable_pytorch_index_refuses_instead_of_falling_back(tmp_path, indexes):
    server, torch_index, default = indexes
    env = _env(tmp_path, PIP_INDEX_URL=default, PIP_EXTRA_INDEX_URL=default)
    step = installer.pytorch_step(index=torch_index)
    result = installer.install(str(tmp_path / "deps"), step=step, env=env)
    assert not result.ok
    assert result.reason == installer.unreachable_index_sentence(torch_index)
    assert result.reason.count(". ") == 0 and result.reason.endswith(".")
    command = result.log[0].split()
    assert command[command.index("--index-url") + 1] == torch_index
    assert "--extra-index-url" not in command and default not in result.log[0]
    assert any(path.startswith("/down/whl/cpu/torch") for path in server.requests)
    assert not any(path.startswith("/simple") or path.startswith("/files") for path in server.requests)
    assert not (tmp_path / "deps" / "torch").exists()


def test_an_extra_index_in_pip_configuration_stops_the_pytorch_step(tmp_path, indexes):
    server, torch_index, default = indexes
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nextra-index-url = {default}\n")
    env = _env(tmp_path, PIP_CONFIG_FILE=str(config))
    result = installer.install(str(tmp_path / "deps"), step=installer.pytorch_step(index=torch_index), env=env)
    assert not result.ok and result.reason == installer.other_index_sentence([default])
    assert not any(path.startswith("/files") for path in server.requests)
    assert not (tmp_path / "deps" / "torch").exists()


def test_the_two_steps():
    digitising = installer.digitising_step("1.24.2")
    assert digitising.packages == ("onnxruntime", "opencv-python-headless<4.12") and digitising.index_url == ""
    assert installer.digitising_step("2.1.0").packages == ("onnxruntime", "opencv-python-headless")
    assert installer.pytorch_step().index_url == "https://download.pytorch.org/whl/cpu"
    assert installer.pytorch_step(cuda=True).index_url == "https://download.pytorch.org/whl/cu126"
    assert installer.pytorch_step().packages == ("torch",)
    cmd = installer.pip_command("/t", ("torch",), "/c.txt", installer.PYTORCH_INDEX + "cpu", "/py", (23, 0))
    assert cmd[:3] == ["/py", "-m", "pip"] and "--extra-index-url" not in cmd and "--progress-bar" not in cmd
    assert cmd[cmd.index("--index-url") + 1] == installer.PYTORCH_INDEX + "cpu"
    assert "raw" in installer.pip_command("/t", ("x",), "/c.txt", "", "/py", (24, 2))
    env = installer.strict_environment({"PIP_EXTRA_INDEX_URL": "https://pypi.org/simple", "HTTPS_PROXY": "p"})
    assert env == {"HTTPS_PROXY": "p"}


def test_progress_from_a_recorded_pip_23_run():
    """pip 23.0.1's output of the digitising step on this machine (2026-12), line by line."""
    progress = PipProgress(expected_bytes=96e6)
    seen = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if progress.feed(line):
            seen.append((round(progress.fraction, 3), progress.text))
    texts = [text for _, text in seen]
    assert "Downloading onnxruntime (0.0 MB of 27.8 MB) — 0.0 MB of about 96.0 MB, 1 packages so far" in texts
    assert "Downloading opencv-python-headless (50.0 MB of 50.0 MB) — 77.8 MB of about 96.0 MB, " \
           "2 packages so far" in texts
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert progress.packages == ["onnxruntime", "opencv-python-headless", "flatbuffers", "numpy", "packaging",
                                 "protobuf"]
    assert progress.sizes == {"onnxruntime": 27.8e6, "opencv-python-headless": 50.0e6, "numpy": 17.3e6,
                              "packaging": 140e3}
    assert texts[-2] == "Installing 6 packages (95.2 MB downloaded)…"
    assert texts[-1] == "Installed 6 packages (95.2 MB downloaded)."


def test_progress_in_bytes_from_the_raw_bar_and_urls():
    """pip ≥ 24.1 with --progress-bar raw ('Progress N of M'), a download shown as its URL, a cached one."""
    progress = PipProgress(expected_bytes=200e6)
    lines = ["Looking in indexes: https://download.pytorch.org/whl/cpu", "Collecting torch",
             "  Downloading https://download.pytorch.org/whl/cpu/torch-2.5.1%2Bcpu-cp311-cp311-linux_x86_64.whl "
             "(174.7 MB)", "Progress 87350000 of 174700000", "WARNING: Retrying (Retry(total=4)) after 1/2 kB",
             "Collecting sympy", "  Using cached sympy-1.13.1-py3-none-any.whl.metadata (12 kB)",
             "  Using cached https://download.pytorch.org/whl/sympy-1.13.1-py3-none-any.whl (6.2 MB)"]
    for line in lines[:4]:
        progress.feed(line)
    assert progress.current == "torch" and progress.downloaded == 87350000
    assert progress.text == "Downloading torch (87.3 MB of 174.7 MB) — 87.3 MB of about 200.0 MB, 1 packages so far"
    assert progress.fraction == pytest.approx(0.9 * 87350000 / 200e6)
    progress.feed("[1/2] Progress 100000000 of 174700000 bytes")             # a later pip's raw line
    assert progress.downloaded == 100000000
    for line in lines[4:]:
        progress.feed(line)
    assert progress.downloaded == pytest.approx(174.7e6 + 6.2e6) and progress.packages == ["torch", "sympy"]
    assert package_of("https://x/whl/opencv_python_headless-4.11.0.86-cp37-abi3-any.whl") == "opencv-python-headless"


def test_the_command_line_refuses_in_one_line(tmp_path, indexes):
    import subprocess
    import sys

    server, torch_index, default = indexes
    env = _env(tmp_path, PIP_INDEX_URL=default)
    out = subprocess.run([sys.executable, "-m", "avalanche_iseg_plugin.dependencies", "install", "--step", "pytorch",
                          "--index-url", torch_index, "--target", str(tmp_path / "deps")],
                         cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and out.stderr == installer.unreachable_index_sentence(torch_index) + "\n"
    assert "Traceback" not in out.stdout and not (tmp_path / "deps" / "torch").exists()
