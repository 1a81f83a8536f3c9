"""Relaying signed actions: a POST checked completely before the relayer spends gas, sent, then watched.

Read in this order; each file is named for what it does.

1. ``request.py``: what a signer asks for: an action on a contract (``ActionRequest``), and once signed, with
   its deadline and signature (``SignedRequest``).
2. ``typed_data.py``: what the signer signs (``GET .../actions/<verb>``): the action's message with the
   signer's next nonce and a deadline.
3. ``pipeline.py``: a POST, end to end. ``RelayPipeline.submit`` runs the steps below in order under the lock
   rule; ``relay_request`` puts the Idempotency-Key and ``?wait=true`` around it and makes the answer.
4. ``idempotency.py``: a retried POST gets the first answer instead of acting twice.
5. ``locks.py``: the lock rule, stated there and nowhere else: room among the relays in flight, the signer's
   lock, the contract's lock.
6. ``checks.py``: under the signer's lock: the nonce, the deadline, the signature.
7. ``nonces.py``: the nonce each signer must sign next (its registry nonce, past its relays in flight through
   any gateway).
8. ``lease.py``: one live gateway per relayer account (a lease row with a heartbeat), confirmed before a send.
9. ``send.py``: under the contract's lock: simulate the exact ``...BySig`` call against the pending state and
   send it with the action's worst-case gas.
10. ``in_flight.py``: this gateway's relays sent and not settled; what the lock rule's cap counts.
11. ``records.py``: every gateway's relays as rows: statuses, and the signers' nonces in flight.
12. ``watch.py``: a thread that settles each relay as mined or reverted (any gateway's, once).
13. ``wait.py``: ``?wait=true``: the receipt, then the mirror.
"""
