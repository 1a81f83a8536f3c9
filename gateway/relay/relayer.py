"""The relayer is an account nobody else uses: it holds no role and belongs to no organization.

Its nonces are this gateway's alone (``send.py`` numbers its transactions): an account that someone also uses as
an officer, say, sends transactions the gateway does not know of, and relaying then fails with "nonce too low".
The gateway refuses to start with such a relayer, and refuses to relay once the registry (as mirrored) gives it a
role or binds it.
"""

from __future__ import annotations

from gateway.identity import Principal

__all__ = ["relayer_problem"]


def relayer_problem(relayer: Principal) -> str | None:
    """Why ``relayer`` (as the registry sees it) cannot relay, in words; None if it can."""
    if not relayer.roles and relayer.organization is None:
        return None
    held = ", ".join(sorted(role.name.lower().replace("_", "-") for role in relayer.roles)) or "no role"
    bound = f"bound to {relayer.organization}" if relayer.organization else "bound to no organization"
    return (
        f"the gateway's relayer {relayer.address} is {bound} and holds {held}: a relayer is an account nobody else "
        "uses (its transactions would collide with the relayer's nonces); revoke its roles and unbind it, or "
        "configure another relayer"
    )
