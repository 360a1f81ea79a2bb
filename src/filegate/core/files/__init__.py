"""The Files resource's services: files (``service``), the Uploads API (``uploads``), and
the relay that streams an upload to a provider (``relay``).
"""
