"""The client layer: REST (FastAPI) over a node's query and submission surface.

Owns the translation between the outside world (JSON, decimal strings, hex
addresses, HTTP status codes, problem+json errors) and the node's integer,
bytes-based surface. It never reaches into consensus internals and never
shows state that is not committed.
"""
