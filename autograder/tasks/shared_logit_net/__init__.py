"""The task ``shared_logit_net``: its checks (``checks.py``) and answer key (``key.toml``)."""
