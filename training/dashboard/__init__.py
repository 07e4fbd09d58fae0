"""`ccser-dashboard`: a small local web app over ccser (the `[dashboard]` extra).

cli.py (flags -> config, runs uvicorn), routes.py (the routes table and its
handlers), relay.py (ZeroMQ events -> browsers over Server-Sent Events),
catalogue.py (model folders and cards), trainer.py (one ccser-train run in the
background), security.py (host, token and cross-site checks), static/ (the page).
"""
