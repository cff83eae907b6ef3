"""The framework's limit: a bare Flask JSON endpoint, served by the same gunicorn settings.

It parses the JSON body and answers 201 with a small JSON document, as the payment endpoint does,
and does nothing else: no database, no auth, no signatures.
gunicorn -c docker/gunicorn.conf.py 'bench.bare_app:create_app()'
"""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/payments")
    def pay():
        body = request.get_json()
        return jsonify(id="pay_bare", amount=body.get("amount"), status="completed"), 201

    return app
