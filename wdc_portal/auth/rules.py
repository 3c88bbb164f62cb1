"""Who may read what, from the mesh itself (no role table of its own):

- a user belongs to domains (their account, or the proxy's groups header);
- they may **read** a product when one of their domains owns it, is an allowed consumer in its
  contract, or holds an approved access request (a grant);
- of a product they read but do not own, they see the columns its classification lets leave the
  domain: `public` and `internal`, and `personal` ones the contract made safe (pseudonymised or
  generalised); `confidential`, `sensitive`, untreated personal and unclassified columns stay
  with the owning domain;
- only a member of the owning domain (the contract's team) **decides** on access requests;
- anyone signed in browses the marketplace (metadata only); a user of no domain reads no rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlglot import exp, parse_one

from wdc_orchestration.governance.descriptor import (
    Classification,
    Column,
    ProductDescriptor,
)

# What may leave the owning domain as it is.
OPEN_CLASSES = frozenset({Classification.PUBLIC, Classification.INTERNAL})


@dataclass(frozen=True)
class User:
    username: str
    domains: frozenset[str] = frozenset()
    name: str = ""
    admin: bool = False

    @property
    def label(self) -> str:
        domains = ", ".join(sorted(self.domains)) or "no domain"
        return f"{self.name or self.username} ({domains})"


def readers(product: ProductDescriptor, grants: Mapping[str, Iterable[str]]) -> set[str]:
    """The domains that read `product`: its owner, its contract's consumers and the grants."""
    return {product.domain, *product.consumers, *grants.get(product.id, ())}


def owns(user: User | None, product: ProductDescriptor) -> bool:
    return user is not None and product.domain in user.domains


def may_read(
    user: User | None, product: ProductDescriptor, grants: Mapping[str, Iterable[str]]
) -> bool:
    return user is not None and bool(user.domains & readers(product, grants))


def may_decide(user: User | None, product: ProductDescriptor) -> bool:
    """Approve or reject a request for `product`: members of its owning domain only."""
    return owns(user, product)


def request_domains(user: User | None, product: ProductDescriptor) -> list[str]:
    """The user's domains that may ask to read `product` (not its owner)."""
    return sorted(d for d in (user.domains if user else ()) if d != product.domain)


def column_visible(column: Column) -> bool:
    """Whether a column may be shown outside the owning domain."""
    if column.classification in OPEN_CLASSES:
        return True
    return column.classification == Classification.PERSONAL and column.privacy is not None


def visible_columns(user: User | None, product: ProductDescriptor) -> list[Column]:
    """The columns of `product` the user sees (all of them for its owning domain)."""
    if owns(user, product):
        return list(product.columns)
    return [c for c in product.columns if column_visible(c)]


def hidden_columns(user: User | None, product: ProductDescriptor) -> list[str]:
    shown = {c.name for c in visible_columns(user, product)}
    return [c.name for c in product.columns if c.name not in shown]


def may_see_query(
    user: User | None,
    sql: str,
    reads: Iterable[ProductDescriptor],
    grants: Mapping[str, Iterable[str]],
) -> bool:
    """A KPI's query: every product it reads is readable, and it reads no column hidden from the
    user (an aggregate of a confidential column is the column's information). When some are
    hidden, every name the query uses must be a visible column or one of its own aliases, and it
    selects no `*` (but `count(*)`) nor `COLUMNS(...)`: `select *`, `r.*`, `to_json(r)` (a row by
    its table's alias) and `columns('.*amount')` read hidden columns without naming them."""
    products = list(reads)
    if not all(may_read(user, p, grants) for p in products):
        return False
    hidden = {name.lower() for p in products for name in hidden_columns(user, p)}
    if not hidden:
        return True
    tree = parse_one(sql, read="duckdb")
    if tree.find(exp.Columns) is not None:
        return False
    if any(not isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star)):
        return False
    visible = {c.name.lower() for p in products for c in visible_columns(user, p)}
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    aliases |= {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    named = {c.name.lower() for c in tree.find_all(exp.Column)}
    return not (named & hidden) and named <= visible | (aliases - hidden)
