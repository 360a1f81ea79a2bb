"""HTTP to upstream services: one client with one retry policy and OpenAI's error mapping."""
