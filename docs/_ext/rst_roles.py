"""Griffe extension: render the Sphinx roles of xsup's docstrings as API links.

The numpydoc docstrings cross-reference with Sphinx roles
(:class:`xsup.base.Explainer`, :func:`~xsup.tuning.search_space`,
:meth:`forward`), which Markdown would show as literal text. This extension
rewrites each role, once the package is loaded, into an *optional* autorefs
link: a link when the target is rendered somewhere in the site, plain code
otherwise (names of other libraries, private helpers), never a warning.

Targets are resolved the way Sphinx resolves them: a dotted path from the
package root, else a name relative to the enclosing class, module and parent
packages of the docstring's owner.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?P<role>class|func|meth|attr|mod|data|obj|exc|const):`(?P<target>[^`]+)`")


def _lookup(root: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    """The object at ``path`` (a dotted path from the package root) or None."""
    if path == root.path:
        return root
    if not path.startswith(root.path + "."):
        return None
    try:
        return root[path[len(root.path) + 1 :]]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _resolve(root: griffe.Module, owner: griffe.Object, target: str) -> str:
    """The canonical path of ``target`` as seen from ``owner``, or ``target`` itself."""
    scopes = [target]
    scope: griffe.Object | None = owner
    while scope is not None:
        scopes.append(f"{scope.path}.{target}")
        scope = scope.parent
    for path in scopes:
        found = _lookup(root, path)
        if found is not None:
            try:
                return found.canonical_path
            except (griffe.AliasResolutionError, griffe.CyclicAliasError):
                return path
    return target


def _rewrite(root: griffe.Module, owner: griffe.Object, text: str) -> str:
    def link(match: re.Match[str]) -> str:
        target = match["target"].strip()
        short = target.startswith("~")
        target = target.lstrip("~.")
        shown = target.rsplit(".", 1)[-1] if short else target
        if match["role"] in {"func", "meth"}:
            shown += "()"
        identifier = _resolve(root, owner, target)
        return f'<autoref identifier="{escape(identifier)}" optional><code>{escape(shown)}</code></autoref>'

    return ROLE.sub(link, text)


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles into optional autorefs links."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in _walk(pkg):
            if obj.docstring is not None and ":`" in obj.docstring.value:
                obj.docstring.value = _rewrite(pkg, obj, obj.docstring.value)
