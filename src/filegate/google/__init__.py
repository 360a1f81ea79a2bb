"""Google Cloud clients shared by the GCS blob store and the Vertex AI provider."""
