"""The task ``conv1d_backward``: its checks (``checks.py``) and answer key (``key.toml``)."""
