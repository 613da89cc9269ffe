"""The task ``sigmoid_mlp``: its checks (``checks.py``) and answer key (``key.toml``)."""
