"""Google Cloud, shared by the GCS blob store and the Vertex AI provider: the one GCS
client (``gcs_client``) and the one token source (``tokens``)."""
