"""The task ``batchnorm``: its checks (``checks.py``) and answer key (``key.toml``)."""
