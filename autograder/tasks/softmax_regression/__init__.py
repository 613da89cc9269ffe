"""The task ``softmax_regression``: its checks (``checks.py``) and answer key (``key.toml``)."""
