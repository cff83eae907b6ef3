"""The progressive web app: the files in pwa/ that make the app, served at `/` under a strict CSP.

`/` and `/pay` answer with index.html, so a phone camera that opens a QR's
`{PUBLIC_URL}/pay#<token>` lands on the pay screen. Only the files the app is made of are served:
an allow-list read from the service worker's precache list (`SHELL` in sw.js, which holds
everything index.html and the manifest reference), sw.js itself and the vendored QR decoder. A
request path (percent-decoded once by the server) is served only if it is one of them, exactly:
no dot segments, doubled slashes, backslashes or encodings are interpreted, so nothing outside
the list (pwa/tests, a licence text, the repository around pwa/) can be reached. The app shell is
revalidated on every load (`no-cache` with an ETag) so a new release reaches phones at once; the
vendored decoder lives under a versioned folder and is immutable.

Text and the decoder's wasm go compressed (brotli where the client accepts it, else gzip), each
file compressed once per process at the best quality and kept in memory: the wasm is 357 KB as
brotli 11 against 441 KB at flask-compress's per-request level 4, two seconds less on slow 3G.
Each encoding is its own representation with its own strong ETag (`"<sha1>:br"`, as
flask-compress writes them), and every answer varies on Accept-Encoding.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import brotli
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound

blueprint = Blueprint("pwa", __name__)

PWA_DIR_DEFAULT = Path(__file__).resolve().parents[2] / "pwa"

# The vendored decoder: scanner.js imports the ponyfill, which imports its glue and fetches the
# wasm. Not precached (only a browser without a native BarcodeDetector ever needs it).
DECODER_FILES = (
    "vendor/barcode-detector-3.2.2/barcode-detector-ponyfill.js",
    "vendor/barcode-detector-3.2.2/zxing-exported.js",
    "vendor/barcode-detector-3.2.2/zxing_reader.wasm",
)
SHELL_LIST = re.compile(r"^const SHELL = \[(.*?)^\];", re.S | re.M)

MIMETYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}

# No inline script or style anywhere; WebAssembly compilation for the vendored QR decoder;
# images from our QR endpoints and the camera's blobs; no framing, no plugins, no base override.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

IMMUTABLE_SECONDS = 365 * 24 * 3600

# The files whose policy headers the browser applies: the page and the service worker (a
# worker's script brings its own policy). A script, style sheet, icon or wasm ignores them, and
# on a slow phone the ~600 bytes they would add to each of the shell's 35 answers (revalidations
# included) are a third of a first load.
DOCUMENTS = {"index.html", "sw.js"}

# What compresses (PNG is compressed already), and how: the best quality, paid once per process.
COMPRESSIBLE = {".html", ".js", ".css", ".webmanifest", ".wasm", ".svg"}
ENCODINGS = ("br", "gzip")
BROTLI_QUALITY = 11
GZIP_LEVEL = 9


@dataclass
class _Stored:
    """One file as read, with its encodings made so far."""

    stamp: tuple[int, int]  # (mtime_ns, size): a changed file is read again
    body: bytes
    etag: str
    encoded: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_stored: dict[Path, _Stored] = {}
_stored_lock = threading.Lock()


def _read(path: Path) -> _Stored:
    status = path.stat()
    stamp = (status.st_mtime_ns, status.st_size)
    with _stored_lock:
        stored = _stored.get(path)
    if stored is None or stored.stamp != stamp:
        body = path.read_bytes()
        stored = _Stored(stamp=stamp, body=body, etag=hashlib.sha1(body).hexdigest())
        with _stored_lock:
            _stored[path] = stored
    return stored


def _encoded(stored: _Stored, encoding: str) -> bytes:
    """Return the file in `encoding`, compressing it on first use (one thread per file does it;
    brotli releases the GIL, so the wasm's 3.5 s hold no other request)."""
    with stored.lock:
        if encoding not in stored.encoded:
            if encoding == "br":
                data = brotli.compress(stored.body, quality=BROTLI_QUALITY)
            else:
                data = gzip.compress(stored.body, GZIP_LEVEL, mtime=0)
            stored.encoded[encoding] = data
        return stored.encoded[encoding]


def _pwa_dir() -> Path:
    return Path(current_app.config.get("PWA_DIR") or PWA_DIR_DEFAULT)


@functools.lru_cache(maxsize=4)
def served_files(pwa_dir: Path) -> frozenset[str]:
    """Return the app's files, relative to `pwa_dir`: sw.js's precache list, sw.js, the decoder.

    Read once per process (a release restarts the gateway).
    """
    found = SHELL_LIST.search((pwa_dir / "sw.js").read_text())
    if found is None:
        raise RuntimeError(f"no `const SHELL = [...]` precache list in {pwa_dir / 'sw.js'}")
    shell = {path.removeprefix("/") for path in re.findall(r'"(/[^"]*)"', found.group(1))}
    shell.discard("")  # "/": index.html, served at / and /pay
    files = frozenset(shell | {"sw.js", *DECODER_FILES})
    unknown = sorted(name for name in files if Path(name).suffix not in MIMETYPES)
    if unknown:
        raise RuntimeError(f"no content type for the app's files {unknown}")
    return files


def _serve(filename: str):
    pwa_dir = _pwa_dir()
    if filename not in served_files(pwa_dir):
        raise NotFound()
    suffix = Path(filename).suffix
    # Read whole (the largest file, the decoder's wasm, is about 1 MB) rather than streamed: no
    # open file outlives the request, and the ETag makes a revalidation a 304 without a body.
    path = pwa_dir / filename
    if not path.is_file():
        raise NotFound()
    stored = _read(path)
    encoding = None
    if suffix in COMPRESSIBLE and len(stored.body) >= current_app.config["COMPRESS_MIN_SIZE"]:
        encoding = request.accept_encodings.best_match(ENCODINGS)
    if encoding:
        response = Response(_encoded(stored, encoding), mimetype=MIMETYPES[suffix])
        response.headers["Content-Encoding"] = encoding
        response.set_etag(f"{stored.etag}:{encoding}")
    else:
        response = Response(stored.body, mimetype=MIMETYPES[suffix])
        response.set_etag(stored.etag)
    response.vary.add("Accept-Encoding")
    response.make_conditional(request)
    if filename.startswith("vendor/"):
        response.headers["Cache-Control"] = f"public, max-age={IMMUTABLE_SECONDS}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    if filename in DOCUMENTS:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
        response.headers["X-Frame-Options"] = "DENY"
    if filename == "sw.js":
        response.headers["Service-Worker-Allowed"] = "/"
    return response


@blueprint.get("/")
@blueprint.get("/pay")
def index():
    """Serve the app shell; the client reads a QR token from the URL's fragment."""
    return _serve("index.html")


@blueprint.get('/<any("index.html", "manifest.webmanifest", "sw.js"):filename>')
def shell_file(filename: str):
    return _serve(filename)


# One rule per folder rather than a catch-all `/<path>`: a catch-all GET would also match
# /api/v1/... and turn the API's 405 (wrong method) into a 404.
@blueprint.get("/<any(scripts, styles, icons, vendor):folder>/<path:filename>")
def asset(folder: str, filename: str):
    return _serve(f"{folder}/{filename}")
