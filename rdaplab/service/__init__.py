"""The web service: an HTTP API (progressive batch lookups, jobs, metrics) and a job
dashboard, on aiohttp, with a worker running the cache's jobs (docs/service.md)."""
