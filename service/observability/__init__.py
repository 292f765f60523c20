"""Operating the server: Prometheus metrics, health and readiness, the HTTP port, logs and tracing.

- `metrics`: the `veriframe_*` metrics (event counters the code increments, and collectors that read
  the database and the GPU when Prometheus scrapes);
- `request_log`: the gRPC interceptor that times and logs every RPC (one request line each);
- `readiness`: what `/readyz` and the gRPC health service's overall status report;
- `http`: the aiohttp application on `--http-listen` (`/metrics`, `/healthz`, `/readyz`) that other
  modules can mount routes on;
- `logs`: `--log-format text|json`; `tracing`: opt-in OpenTelemetry spans.

Nothing here imports torch: an API-only server stays light.
"""
