"""The pydantic models of the HTTP API, one module per resource.

Request bodies are validated with them; responses are written by the routes
from records (with orjson, on the hot paths), and a test checks that what the
routes answer validates against these models. ``server/openapi/`` builds the
document from their JSON schemas, so it says what the routes do.
"""
