"""A client of meshd's config API (HTTPS, admin token), for every program that talks to it: meshctl, mesh-lab
and the tests. Where meshd is and which token to use is the caller's to decide (meshctl's flags:
`cli/connection.py`)."""
