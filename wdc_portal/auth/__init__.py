"""Who is using the portal and what they may see: sign-in (signin.py), local accounts on the
lake (accounts.py), the mesh's rules of who reads what (rules.py) and the hardening of Taipy's
server (guard.py: origins, served files, websocket messages)."""
