"""The task ``lstm_params``: its checks (``checks.py``) and answer key (``key.toml``)."""
