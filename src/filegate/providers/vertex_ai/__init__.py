"""Vertex AI: files as GCS objects (``provider``), batch lines converted to Vertex's
request format (``batch_lines``) and its output back to OpenAI's (``output_lines``),
its credentials setting (``credentials``), the SDK's adapter (``sdk``), and what the
registry knows (``spec``).
"""
