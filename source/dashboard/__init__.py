"""The fleet's web view (`steerable_motion.py dashboard`): runs, their rows and outputs, workers, and
Prometheus metrics, read through the queue interface on any backend.

app.py builds the Starlette application; pages.py turns queue reads into what the templates show;
files.py serves artefacts from the configured output roots only; access.py keeps the token;
metrics.py writes /metrics. Server-rendered HTML with one small script (static/dashboard.js) that
refreshes the page's main region in place.
"""
