"""The progressive web app: the static files in pwa/ served at `/`, under a strict CSP.

`/` and `/pay` answer with index.html, so a phone camera that opens a QR's
`{PUBLIC_URL}/pay#<token>` lands on the pay screen. Only the app's own folders are served (not
pwa/tests). The app shell is revalidated on every load (`no-cache` with an ETag) so a new release
reaches phones at once; the vendored decoder lives under a versioned folder and is immutable.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.exceptions import NotFound

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
    response = send_from_directory(
        _pwa_dir(), filename, mimetype=MIMETYPES.get(suffix), max_age=0, conditional=True
    )
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


@blueprint.get("/<path:filename>")
def asset(filename: str):
    if filename.startswith("api/"):
        raise NotFound()
    return _serve(filename)
