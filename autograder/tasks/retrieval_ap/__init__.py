"""The task ``retrieval_ap``: its checks (``checks.py``) and answer key (``key.toml``)."""
