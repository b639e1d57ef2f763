"""Reads of the SMS-Activate code tables: the shipped data files merged with the operators' mappings."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.db.models import Q

from accounts.models import Tenant
from compat.models import CodeMapping

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_FILES = {
    CodeMapping.Kind.SERVICE: DATA_DIR / "services.csv",
    CodeMapping.Kind.COUNTRY: DATA_DIR / "countries.csv",
}


@dataclass(frozen=True)
class ShippedCode:
    code: str
    name: str
    our_id: str


@cache
def shipped_codes(kind: str) -> dict[str, ShippedCode]:
    """The protocol's published table of one kind as shipped in ``compat/data/`` (read once per process)."""
    with SHIPPED_FILES[CodeMapping.Kind(kind)].open(newline="", encoding="utf-8") as handle:
        rows = [ShippedCode(row["code"], row["name"], row["our_id"]) for row in csv.DictReader(handle)]
    return {row.code: row for row in rows}


@dataclass(frozen=True)
class CodeTable:
    """One storefront's effective mapping, both ways, for services and countries.

    ``service_id("wa")`` → ``"whatsapp"`` (None for an unknown or withdrawn code); ``service_code("whatsapp")``
    → ``"wa"``. When several codes name the same id, the reverse lookup gives the most specific one (the
    storefront's, then a global override, then the shipped table), then the lowest code.
    """

    services: dict[str, str]
    countries: dict[str, str]
    service_codes: dict[str, str]
    country_codes: dict[str, str]

    def service_id(self, code: str | None) -> str | None:
        return self.services.get(code or "")

    def country_id(self, code: str | None) -> str | None:
        return self.countries.get(code or "")

    def service_code(self, service_id: str) -> str | None:
        return self.service_codes.get(service_id)

    def country_code(self, country_id: str) -> str | None:
        return self.country_codes.get(country_id)


def code_table(*, tenant: Tenant) -> CodeTable:
    """The storefront's effective code tables: shipped, then global mappings, then its own (one query)."""
    layers: dict[str, list[dict[str, str]]] = {
        kind: [{code: row.our_id for code, row in shipped_codes(kind).items()}, {}, {}] for kind in CodeMapping.Kind
    }
    overrides = CodeMapping.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant)).values_list(
        "tenant_id", "kind", "code", "our_id"
    )
    for tenant_id, kind, code, our_id in overrides:
        layers[kind][2 if tenant_id else 1][code] = our_id
    forward: dict[str, dict[str, str]] = {}
    reverse: dict[str, dict[str, str]] = {}
    for kind, (shipped, global_rows, own_rows) in layers.items():
        merged = {**shipped, **global_rows, **own_rows}
        forward[kind] = {code: our_id for code, our_id in merged.items() if our_id}
        # Most specific layer first, lowest code first within a layer: the first code seen for an id wins.
        precedence = {code: (0 if code in own_rows else 1 if code in global_rows else 2) for code in forward[kind]}
        reverse[kind] = {}
        for code in sorted(forward[kind], key=lambda c: (precedence[c], _code_order(c))):
            reverse[kind].setdefault(forward[kind][code], code)
    return CodeTable(
        services=forward[CodeMapping.Kind.SERVICE],
        countries=forward[CodeMapping.Kind.COUNTRY],
        service_codes=reverse[CodeMapping.Kind.SERVICE],
        country_codes=reverse[CodeMapping.Kind.COUNTRY],
    )


def _code_order(code: str) -> tuple[int, str]:
    """Country codes sort as numbers (2 before 10), service codes as text."""
    return (int(code), "") if code.isdigit() else (0, code)
