"""The task ``bank_rnn``: its checks (``checks.py``) and answer key (``key.toml``)."""
