"""The floor for bench/ingest.py: a Flask endpoint that only answers 200, served like the real app."""
from flask import Flask

app = Flask(__name__)


@app.post("/webhooks")
def webhooks():
    return "", 200


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
