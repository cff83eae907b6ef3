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
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

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
    response = Response(path.read_bytes(), mimetype=MIMETYPES[suffix])
    response.add_etag()
    response.make_conditional(request)
    if filename.startswith("vendor/"):
        response.headers["Cache-Control"] = f"public, max-age={IMMUTABLE_SECONDS}, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
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
