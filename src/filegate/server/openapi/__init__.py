"""The OpenAPI document served at ``/openapi.json`` and Swagger UI at ``/docs``."""
