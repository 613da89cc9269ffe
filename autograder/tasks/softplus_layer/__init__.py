"""The task ``softplus_layer``: its checks (``checks.py``) and answer key (``key.toml``)."""
