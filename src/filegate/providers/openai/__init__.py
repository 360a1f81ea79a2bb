"""OpenAI's Files and Uploads APIs (``provider``), its Uploads API parts (``parts``)."""
