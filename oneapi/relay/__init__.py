"""The relay: one request from a client to an upstream and back, billed.

``controller`` is the straight-line flow; ``routes`` the /v1 blueprint; ``lane`` its ASGI fast
path; ``context`` the data types a plugin's adaptor sees.
"""
