"""Compressed answers: flask-compress (brotli, else gzip; settings in gateway/config.py), for
error answers too.

flask-compress leaves every answer outside 2xx alone. Redirects and 304s have no body, but a
problem document (RFC 9457) does, and a validation problem listing many fields is over a
kilobyte: it is compressed like any other JSON answer.

One `Compress` per application, not one module-level object bound with `init_app`: flask-compress
keeps the bound application's mimetypes and algorithms on the object itself, so a second
application with other settings would change the first one's.
"""

from __future__ import annotations

import flask_compress


class Compress(flask_compress.Compress):
    def after_request(self, response):
        """Compress as flask-compress does, and problem answers (4xx and 5xx) as well."""
        status = response.status_code
        if status < 400:
            return super().after_request(response)
        response.status_code = 200  # flask-compress compresses 2xx answers only
        try:
            return super().after_request(response)
        finally:
            response.status_code = status
