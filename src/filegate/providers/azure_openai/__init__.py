"""Azure OpenAI: OpenAI's wire format with Azure's URLs, auth and file statuses
(``provider``), and what the registry knows (``spec``)."""
