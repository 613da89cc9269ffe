"""The task ``relu_softmax_mlp``: its checks (``checks.py``) and answer key (``key.toml``)."""
