"""The HTTP routes, one module per resource: files, uploads, admin (keys, teams, audit),
health, and the web console's static files.
"""
