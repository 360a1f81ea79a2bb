"""OpenAI's Files and Uploads APIs (``provider``), its Uploads API parts (``parts``), a
filegate gateway as the SDK's target (``gateway``), and what the registry knows (``spec``)."""
