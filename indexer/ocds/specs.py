"""The spec files behind the mirror's procurements: what the chain holds only by hash (the ocid, milestone titles,
the fields a spec marks classified).

A procurement's on-chain id is keccak256 of its spec's ``id`` (the ocid), scoped by its buying ministry, and its
``spec_hash`` is the SHA-256 of the spec file's bytes, so a spec file is matched to its procurement by all three and
can add nothing the chain did not commit to. A file that names a mirrored procurement but whose bytes differ from
what was committed is refused (its ``classified`` list could otherwise lift a restriction); a procurement without a
registered spec is published with the configured ocid prefix, its ministry and its on-chain id, and nothing of it
classified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chain.errors import ConfigurationError
from chain.roles import org_id
from chain.spec import load_spec

__all__ = ["PublishedSpec", "SpecRegister", "default_spec_paths", "keep_spec"]


@dataclass(frozen=True)
class PublishedSpec:
    """What a procurement's spec file adds to its OCDS releases."""

    ocid: str
    sha256: str  # 0x-hex, as the mirror keeps spec_hash
    milestone_titles: tuple[str, ...]
    classified: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class SpecRegister:
    """Spec files by buying ministry's organization id and on-chain procurement id (both 0x-hex, as mirrored)."""

    by_id: dict[tuple[str, str], tuple[PublishedSpec, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> SpecRegister:
        """The register of these spec files and of the ``*.yaml`` files in these folders, those that exist
        (SpecError if one is not a valid spec)."""
        by_id: dict[tuple[str, str], list[PublishedSpec]] = {}
        for path in paths:
            if not path.exists():
                continue
            files = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path]
            for file in files:
                loaded = load_spec(file)
                spec = PublishedSpec(
                    ocid=loaded.spec.id,
                    sha256="0x" + loaded.sha256.hex(),
                    milestone_titles=tuple(m.title for m in loaded.spec.milestones),
                    classified=tuple(loaded.spec.classified),
                    source=loaded.source,
                )
                key = ("0x" + org_id(loaded.spec.ministry).hex(), "0x" + loaded.spec.procurement_id.hex())
                by_id.setdefault(key, []).append(spec)
        return cls({key: tuple(specs) for key, specs in by_id.items()})

    def get(self, ministry_org: str, procurement_id: str, spec_hash: str) -> PublishedSpec | None:
        """The spec of the procurement ``procurement_id`` of ``ministry_org`` committed as ``spec_hash``; None if none
        is registered; ConfigurationError if only other versions of its spec are."""
        specs = self.by_id.get((ministry_org.lower(), procurement_id.lower()))
        if not specs:
            return None
        for spec in specs:
            if spec.sha256 == spec_hash.lower():
                return spec
        raise ConfigurationError(
            f"{specs[0].source}: spec of {specs[0].ocid}, but its SHA-256 {specs[0].sha256} is not the spec hash "
            f"{spec_hash} the procurement committed to on the chain; register the file it was created from"
        )


def default_spec_paths(var_dir: Path) -> list[Path]:
    """Where specs are looked for by default: ``var/specs`` (every procurement `procure procurement create` made
    from this var/ keeps its spec there, before it is created) and the project's examples (the demo's)."""
    from chain import project_root

    # Only the folders' own *.yaml files are specs: budget files live in a subfolder (scripts/examples/budgets).
    return [var_dir / "specs", project_root() / "scripts" / "examples"]


def keep_spec(var_dir: Path, source: Path, sha256: bytes) -> Path | None:
    """Keep the spec a procurement was created from under ``var/specs`` (named by its SHA-256), for publication;
    None if the file no longer holds the bytes that were committed (nothing kept)."""
    raw = source.read_bytes()
    if hashlib.sha256(raw).digest() != sha256:
        return None
    kept = var_dir / "specs" / f"{sha256.hex()}.yaml"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(raw)
    return kept
