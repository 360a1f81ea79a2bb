"""The SDK: LiteLLM's function names (``create_file``, ``afile_list``...) over any target.

``files`` holds the functions, ``targets`` turns their arguments into a provider to call,
``types`` the objects they return, ``content`` a streamed download, ``sources`` what an
upload may read from, ``portal`` the event loop that runs the sync functions. Beyond
LiteLLM's: ``uploads`` (the Uploads API), ``downloads`` (content from a byte offset) and
``admin`` (keys and teams), each over a ``connection`` to a gateway.
"""
