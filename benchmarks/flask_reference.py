"""The tutorials' way of serving a model, kept as the serving benchmark's reference: a Flask
app calling `model.predict` on each request (same preprocessing as mnist-exp-serve, so only
the serving differs).

    python -m benchmarks.flask_reference RUN_DIR --port 5000
"""

from __future__ import annotations

import argparse

import numpy as np
from flask import Flask, jsonify, request

from mnist_exp.imaging.decode import read_gray
from mnist_exp.imaging.preprocess import mnist_style
from mnist_exp.runs.load import open_finished_run


def create_app(model, class_names) -> Flask:
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return jsonify(ready=True)

    @app.post("/predict")
    def predict():
        images = [mnist_style(read_gray(f.read())).pixels for f in request.files.getlist("files")]
        batch = np.stack(images)[..., None].astype(np.float32)
        probabilities = model.predict(batch, verbose=0)
        return jsonify(
            predictions=[
                {"label": int(p.argmax()), "class_name": class_names[int(p.argmax())],
                 "confidence": float(p.max())}
                for p in probabilities
            ]
        )  # fmt: skip

    return app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.flask_reference")
    parser.add_argument("run_dir")
    parser.add_argument("--port", type=int, default=5000)
    arguments = parser.parse_args(argv)
    run = open_finished_run(arguments.run_dir)
    app = create_app(run.load_model(), run.class_names)
    app.run(host="127.0.0.1", port=arguments.port, threaded=True)


if __name__ == "__main__":
    main()
