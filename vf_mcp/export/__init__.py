"""export_results: stream a guarded query's full result to a file (CSV, JSON, JSON Lines, Excel, Parquet).

Modules: `columns` (the result columns every writer sees), `runner` (the READ ONLY transaction and the
server-side cursor), one writer module per format (`csvout`, `jsonout`, `excel`, `parquet`), `store` (the
exports directory: names, sidecars, quota, cleanup), `signing` (HMAC-signed download links) and `masking`
(the PII-masking hook, not built yet).
"""
