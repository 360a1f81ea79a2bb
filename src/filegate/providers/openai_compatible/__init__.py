"""An OpenAI-compatible model server (vLLM, Ollama, ...) on which filegate runs batches."""
