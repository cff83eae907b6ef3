"""The progressive web app: the static files in pwa/ served at `/`, under a strict CSP.

`/` and `/pay` answer with index.html, so a phone camera that opens a QR's
`{PUBLIC_URL}/pay#<token>` lands on the pay screen. Only the app's own folders are served (not
pwa/tests). The app shell is revalidated on every load (`no-cache` with an ETag) so a new release
reaches phones at once; the vendored decoder lives under a versioned folder and is immutable.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

blueprint = Blueprint("pwa", __name__)

PWA_DIR_DEFAULT = Path(__file__).resolve().parents[2] / "pwa"

SERVED_FILES = {"index.html", "manifest.webmanifest", "sw.js"}
SERVED_FOLDERS = ("scripts/", "styles/", "icons/", "vendor/")

MIMETYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".md": "text/plain",
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


def _serve(filename: str):
    suffix = Path(filename).suffix
    if filename not in SERVED_FILES and not filename.startswith(SERVED_FOLDERS):
        raise NotFound()
    if suffix not in MIMETYPES:  # the icon script, a licence text: not part of the app
        raise NotFound()
    # Read whole (the largest file, the decoder's wasm, is about 1 MB) rather than streamed: no
    # open file outlives the request, and the ETag makes a revalidation a 304 without a body.
    path = safe_join(str(_pwa_dir()), filename)
    if path is None or not Path(path).is_file():
        raise NotFound()
    response = Response(Path(path).read_bytes(), mimetype=MIMETYPES[suffix])
    response.add_etag()
    response.make_conditional(request)
    if filename.startswith("vendor/") and suffix != ".md":
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
