"""gateway: the HTTP API (FastAPI) for ministries, suppliers, evaluators and auditors.

Signed actions in (EIP-712, relayed; the gateway never holds a user's key), state out (the indexer's SQL
mirror, scoped by role). ``gateway.main.create_app`` builds the app; ``procure serve`` runs it.
"""
