"""Load benchmark of the gateway: fake upstream, load generators, case runners and report.

Run ``python -m bench.run`` (see bench/README.md).
"""
