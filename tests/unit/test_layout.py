"""The package's layout rules, checked from the source (imports read with ``ast``).

README "Architecture" says what each folder holds; these tests keep it true: no import
cycles (type-only imports included), concrete backends reached only through their
registry or the composition root (``filegate/gateway.py``), the SDK a package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import filegate

PACKAGE = Path(filegate.__file__).parent

# Concrete backends, by module prefix, and who besides their own folder may import them.
CONCRETE = {
    "filegate.catalog.sql": "filegate.catalog",
    "filegate.catalog.tenants": "filegate.catalog",
    "filegate.catalog.uploads": "filegate.catalog",
    "filegate.catalog.runner": "filegate.catalog",
    "filegate.blobstores.local": "filegate.blobstores",
    "filegate.blobstores.s3": "filegate.blobstores",
    "filegate.blobstores.gcs": "filegate.blobstores",
    "filegate.blobstores.azure_blob": "filegate.blobstores",
    "filegate.providers.openai": "filegate.providers",
    "filegate.providers.azure_openai": "filegate.providers",
    "filegate.providers.vertex_ai": "filegate.providers",
    "filegate.providers.openai_compatible": "filegate.providers",
}
COMPOSITION_ROOT = "filegate.gateway"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.relative_to(PACKAGE).parts
    }


def imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every package module ``path`` imports, at any depth of the file (type-only too)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from filegate.x import y": y is a module or a name in x.
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in known:
                yield name


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set(imports(path, known)) - {name}
        # Importing filegate.a.b runs filegate.a/__init__ too, but that is not an
        # edge the module chose; only what it names counts.
        edges[name] = {t for t in targets if not any(o.startswith(t + ".") for o in targets)}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_concrete_backends_only_through_registry_or_composition_root() -> None:
    wrong = []
    for importer, targets in graph().items():
        for target in targets:
            for prefix, home in CONCRETE.items():
                if target != prefix and not target.startswith(prefix + "."):
                    continue
                if importer == COMPOSITION_ROOT or importer.startswith(home + "."):
                    continue
                if importer == home:
                    continue
                wrong.append(f"{importer} imports {target}")
    assert wrong == []


def test_package_root_keeps_at_most_two_private_modules() -> None:
    private = [
        p.name for p in PACKAGE.glob("_*.py") if p.name not in ("__init__.py", "__main__.py")
    ]
    assert len(private) <= 2, private
    assert (PACKAGE / "sdk" / "__init__.py").is_file()


def test_route_modules_do_not_import_each_other() -> None:
    # What routes share lives beside them (server/request.py, server/multipart.py).
    routes = "filegate.server.routes."
    wrong = [
        f"{importer} imports {target}"
        for importer, targets in graph().items()
        if importer.startswith(routes)
        for target in targets
        if target.startswith(routes) and target != importer
    ]
    assert wrong == []


def closure(start: str, edges: dict[str, set[str]], through: str = "") -> set[str]:
    """Every module ``start`` reaches through imports (not past ``through``)."""
    seen, todo = set(), [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen and target != through:
                seen.add(target)
                todo.append(target)
    return seen


def sources_matching(pattern: str) -> set[str]:
    """Modules whose source holds ``pattern`` (a regular expression)."""
    regex = re.compile(pattern)
    return {name for name, path in modules().items() if regex.search(path.read_text())}


def test_one_gcs_client_and_one_google_token_source() -> None:
    # Resumable uploads are spoken in one place.
    assert sources_matching(r"uploadType") == {"filegate.google.gcs_client"}
    assert sources_matching(r"\"resumable\"") == {"filegate.google.gcs_client"}
    # google-auth is called in one place (other modules may name its types).
    assert sources_matching(r"\.refresh\(|google\.auth\.default|from google\.oauth2") == {
        "filegate.google.tokens"
    }
    assert sources_matching(r"(?m)^class (GoogleTokens|GCSClient)\b") == {
        "filegate.google.tokens",
        "filegate.google.gcs_client",
    }


def test_one_retry_policy() -> None:
    assert sources_matching(r"RETRY_STATUSES = |2(\.0)? ?\*\* ?\(?(attempt|retry)") == {
        "filegate.upstream.retry"
    }
    assert sources_matching(r"(?m)^(ATTEMPTS|BACKOFF) = ") == set()


def test_storage_google_and_upstream_code_never_reaches_providers() -> None:
    edges = graph()
    for name in edges:
        if name.startswith(("filegate.blobstores", "filegate.google", "filegate.upstream")):
            # config knows the providers (by the registry); the code that moves bytes
            # and speaks HTTP does not.
            reached = closure(name, edges, through="filegate.config")
            reached = {m for m in reached if m.startswith("filegate.providers")}
            assert reached == set(), name


def test_expiry_rules_are_defined_once() -> None:
    assert sources_matching(r"(?m)^(EXPIRES_MIN|EXPIRES_MAX)\b.*=") == {"filegate.records.files"}
    assert sources_matching(r"def parse_expires_after\b") == {"filegate.core.params"}


def test_no_provider_imports_another_providers_private_names() -> None:
    wrong = []
    for name, path in modules().items():
        if not name.startswith("filegate.providers."):
            continue
        own = ".".join(name.split(".")[:3])
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            if not node.module.startswith("filegate.providers.") or node.module.startswith(own):
                continue
            wrong += [f"{name}: {node.module}.{a.name}" for a in node.names if a.name[0] == "_"]
    assert wrong == []


def test_provider_names_are_compared_only_in_their_package_or_the_registry() -> None:
    from filegate.providers import registry

    # Each provider's package, by the name it registers.
    homes = {
        name: spec.provider_class.rsplit(".", 1)[0].rsplit(".", 1)[0]
        for name, spec in registry.SDK_TARGETS.items()
    }
    quoted = "|".join(re.escape(n) for n in registry.PROVIDERS)
    compared = re.compile(
        rf"""(==|!=)\s*["']({quoted})["']|["']({quoted})["']\s*(==|!=)"""
        rf"""|\bin\s*[(\[{{][^)\]}}]*["']({quoted})["']"""
    )
    wrong = []
    for name, path in modules().items():
        if name == "filegate.providers.registry":
            continue
        for found in compared.finditer(path.read_text()):
            provider = next(g for g in found.groups()[1:] if g and g not in ("==", "!="))
            if not name.startswith(homes[provider] + "."):
                wrong.append(f"{name}: {found.group(0)}")
    assert wrong == []


def test_provider_name_finder_sees_a_comparison() -> None:
    # The check above is only as good as its pattern: these must all match.
    pattern = re.compile(r"""(==|!=)\s*["'](azure)["']|\bin\s*[(\[{][^)\]}]*["'](azure)["']""")
    for text in ('provider == "azure"', "p != 'azure'", 'p in ("x", "azure")', 'p in {"azure"}'):
        assert pattern.search(text), text


def test_cycle_finder_sees_a_cycle() -> None:
    # The checks above are only as good as this: a two-module loop must be found.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
