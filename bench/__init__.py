"""The benchmark of supervisord-lite against supervisord and circus: ``python bench/run.py``.

The scenarios are those of ``../shared/peers.md`` (S1-S10); see ``bench/README.md``.
"""
