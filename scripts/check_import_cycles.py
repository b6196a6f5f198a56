"""``make lint`` step: fails when any two modules of services, shared, devtools or calsync_cli import each other,
directly or through other modules (imports under ``TYPE_CHECKING`` count too)."""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("services", "shared", "devtools", "calsync_cli")


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest chain per module that can reach itself again through its imports."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                chain = (module, *back)
                found.setdefault(frozenset(chain), chain)
    return sorted(found.values())


def main() -> int:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    loops = cycles(graph)
    for chain in loops:
        print("import cycle: " + " -> ".join(chain))
    print(f"{len(loops)} import cycle(s) in {', '.join(PACKAGES)}")
    return 1 if loops else 0


if __name__ == "__main__":
    sys.exit(main())
