"""Serving a SavedModel export: offline in this process, or as an HTTP service on Ray Serve.

    predictor = raygraph.serving.Predictor("export/1")          # no Ray
    probs = predictor.predict({"images": batch})["probs"]

    url = raygraph.serving.serve("export/", port=8501, replicas=2)   # Ray Serve
    # POST {url}:predict  {"instances": [...]}  ->  {"predictions": [...]}
    raygraph.serving.shutdown()

From the shell: `raygraph serve EXPORT_DIR [--port 8501] [--replicas N] [--host H] [--token T]`.

Pieces: predictor (load, check inputs, run, batch), rest (TensorFlow Serving's REST
formats, JSON and Arrow IPC), service (routes, token, limits; no server), deployment
(the Ray Serve deployment and `serve`/`shutdown`; needs `pip install 'raygraph[serve]'`).
"""

from __future__ import annotations

from raygraph.serving.predictor import DEFAULT_SIGNATURE, Predictor, Signature, TensorSpec, resolve_export

__all__ = ["DEFAULT_SIGNATURE", "Predictor", "Signature", "TensorSpec", "resolve_export", "serve", "shutdown"]


def serve(export_dir, **options) -> str:
    """Serves `export_dir` on Ray Serve; see raygraph.serving.deployment.serve for the options."""
    from raygraph.serving import deployment

    return deployment.serve(export_dir, **options)


def shutdown() -> None:
    """Shuts Ray Serve down (see raygraph.serving.deployment.shutdown)."""
    from raygraph.serving import deployment

    deployment.shutdown()
