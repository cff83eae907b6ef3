"""Attack: reach a file outside the PWA's allow-list with dot segments, encodings and the like.

Requests go over a real socket to the gateway served by werkzeug, with the path written exactly
as given (no client normalises it), the way an outsider's `curl --path-as-is` sends it. The
promise (gateway/api/pwa.py): only the files the app is made of are served — sw.js's precache
list, sw.js and the vendored decoder — and every one of them still is.
"""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]
PWA = ROOT / "pwa"
DECODER = "vendor/barcode-detector-3.2.2/"

# Bytes that must never be served: files in and around pwa/ that are not part of the app.
OUTSIDE = {
    name: (ROOT / name).read_bytes()
    for name in (
        "pwa/tests/state.test.js",
        "pwa/tests/api.test.js",
        "pwa/icons/make_icons.py",
        "pwa/vendor/README.md",
        f"pwa/{DECODER}LICENSE.zxing-wasm",
        "pyproject.toml",
        "gateway/config.py",
        "README.md",
    )
}

TRAVERSALS = [
    "/scripts/../tests/state.test.js",
    "/scripts/%2e%2e/tests/state.test.js",
    "/scripts/%2E%2E%2Ftests%2Fstate.test.js",
    "/scripts/..%2ftests/state.test.js",
    "/scripts/%252e%252e/tests/state.test.js",
    "/scripts/..\\tests\\state.test.js",
    "/scripts/%5c..%5ctests%5cstate.test.js",
    "/scripts/./../tests/api.test.js",
    "/scripts//../tests/state.test.js",
    "/styles/../../pyproject.toml",
    "/styles/%2e%2e/%2e%2e/pyproject.toml",
    "/icons/../../gateway/config.py",
    "/vendor/../../README.md",
    "/vendor/README.md",
    f"/{DECODER}LICENSE.zxing-wasm",
    f"/{DECODER}../README.md",
    "/icons/make_icons.py",
    "/icons/./make_icons.py",
    "/tests/state.test.js",
    "//tests/state.test.js",
    "/scripts//etc/passwd",
    "/scripts/%2fetc%2fpasswd",
    "/scripts/" + str(ROOT / "pyproject.toml"),
    "/scripts/" + str(ROOT / "pwa/tests/state.test.js"),
    "/.git/HEAD",
    "/scripts/../.git/HEAD",
    "/scripts/../../.git/config",
    "/scripts/main.js%00.py",
    "/scripts/main.js%00",
    "/scripts/%00../tests/state.test.js",
    "/sw.js?x=../tests/state.test.js",
    "/sw.js/../tests/state.test.js",
    "/index.html/../../pyproject.toml",
    "/scripts/main.js/",
    "/scripts/MAIN.JS",
    "/scripts/main.js.map",
]


@pytest.fixture
def server(app):
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    yield served.server_port
    served.shutdown()
    served.server_close()


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """Send `GET path` exactly as written; return the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def listed_files() -> set[str]:
    """The allow-list as the app shell states it: sw.js's SHELL, sw.js, the decoder's files."""
    shell = re.search(r"^const SHELL = \[(.*?)^\];", (PWA / "sw.js").read_text(), re.S | re.M)
    listed = {path for path in re.findall(r'"(/[^"]*)"', shell.group(1))}
    return (
        listed
        | {"/sw.js", "/pay"}
        | {
            f"/{DECODER}{name}"
            for name in ("barcode-detector-ponyfill.js", "zxing-exported.js", "zxing_reader.wasm")
        }
    )


def test_no_path_form_reaches_a_file_outside_the_app_shell(server):
    listed_bodies = {
        (PWA / (path.lstrip("/") if path not in ("/", "/pay") else "index.html")).read_bytes()
        for path in listed_files()
    }
    served_outside = []
    for path in TRAVERSALS:
        status, body = raw_get(server, path)
        assert status < 500, (path, status, body[:200])
        if any(secret in body for secret in OUTSIDE.values() if len(secret) > 40):
            served_outside.append(path)
        elif status == 200:
            assert body in listed_bodies, path
    assert served_outside == []


def test_every_file_of_the_app_shell_is_still_served(server):
    for path in sorted(listed_files()):
        status, body = raw_get(server, path)
        name = "index.html" if path in ("/", "/pay") else path.lstrip("/")
        assert (status, body) == (200, (PWA / name).read_bytes()), path
