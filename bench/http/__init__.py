"""HTTP benchmark of ``GET /v1/routes`` against ``GET /ping`` of the same app (``python -m bench.http.run``)."""
