"""Privacy (LGPD): no column classified personal or sensitive leaves its domain in clear.

Static (descriptor + dbt SQL): personal columns are pseudonymised or generalised, sensitive ones
pseudonymised; a column named like a direct identifier (cpf, email, phone...) must be
pseudonymised whatever its classification; a column declared pseudonymised is computed with the
`pseudonymise()` macro, in the model or in a model of its own domain it is built from. With data:
pseudonymised columns hold only HMAC hex digests, and the scanner finds no CPF, CNPJ, e-mail or
phone in any column."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from wdc_orchestration.governance.descriptor import Classification, Privacy, ProductDescriptor
from wdc_orchestration.governance.manifest import model_by_id, node_domain
from wdc_orchestration.governance.scanner import Finding
from wdc_orchestration.governance.violations import Violation

# Column names that say "this identifies a person" (English and the CRM's Portuguese).
IDENTIFIER_NAMES = re.compile(
    r"(^|_)(cpf|cnpj|rg|email|e_mail|phone|telefone|celular|mobile|full_name|nome|"
    r"first_name|last_name|birth_date|data_nascimento|address|endereco|street|logradouro|cep|"
    r"zip_code|ip_address)($|_)"
)
PSEUDONYMISE_FIX = "compute it as `{{ pseudonymise('<source column>') }} as <column>` in the model"


def _own_lineage_sql(manifest: Mapping[str, Any], node: Mapping[str, Any]) -> list[str]:
    """The SQL of `node` and of every model of its own domain it is built from: a column may be
    pseudonymised upstream inside the domain (a state product's kept history holds the pseudonym
    already, dbt_project/macros/state_history.sql) and published unchanged."""
    nodes = manifest.get("nodes", {})
    domain = node_domain(node)
    found, todo, seen = [], [node["unique_id"]], set()
    while todo:
        unique_id = todo.pop()
        current = nodes.get(unique_id)
        if unique_id in seen or current is None or current.get("resource_type") != "model":
            continue
        seen.add(unique_id)
        if node_domain(current) != domain:
            continue
        found.append(current.get("raw_code", ""))
        todo.extend(current.get("depends_on", {}).get("nodes", []))
    return found


def check_privacy(
    descriptors: Mapping[str, ProductDescriptor], manifest: Mapping[str, Any]
) -> list[Violation]:
    found: list[Violation] = []
    for d in descriptors.values():
        node = model_by_id(manifest, d.id)
        sql = "\n".join(_own_lineage_sql(manifest, node)) if node else ""
        for c in d.columns:
            where = f"column {c.name}"
            if c.classification == Classification.SENSITIVE and c.privacy != Privacy.PSEUDONYMISED:
                found.append(
                    Violation(
                        d.id,
                        "privacy.sensitive_in_clear",
                        f"{where} is classified sensitive and published "
                        f"{c.privacy.value if c.privacy else 'in clear'}",
                        f"drop it from the product, or {PSEUDONYMISE_FIX} (privacy: pseudonymised)",
                    )
                )
            elif c.classification == Classification.PERSONAL and c.privacy is None:
                found.append(
                    Violation(
                        d.id,
                        "privacy.personal_in_clear",
                        f"{where} is classified personal and published in clear",
                        f"{PSEUDONYMISE_FIX}, or publish a generalisation (age band, UF) and mark "
                        "it privacy: generalised",
                    )
                )
            if IDENTIFIER_NAMES.search(c.name) and c.privacy != Privacy.PSEUDONYMISED:
                found.append(
                    Violation(
                        d.id,
                        "privacy.identifier_in_clear",
                        f"{where} is named like a direct personal identifier and is not "
                        "pseudonymised",
                        f"drop it from the product, or {PSEUDONYMISE_FIX}",
                    )
                )
            if c.privacy == Privacy.PSEUDONYMISED and node is not None:
                computed = re.search(
                    r"pseudonymise\([^)]*\)\s*\}\}\s*as\s+" + re.escape(c.name) + r"\b", sql
                )
                if not computed:
                    found.append(
                        Violation(
                            d.id,
                            "privacy.pseudonymisation_missing",
                            f"{where} is declared pseudonymised but the model does not compute it "
                            "with the pseudonymise() macro",
                            PSEUDONYMISE_FIX,
                        )
                    )
    return found


def check_privacy_data(
    d: ProductDescriptor, findings: list[Finding], bad_pseudonyms: Mapping[str, int]
) -> list[Violation]:
    """Turn scanner findings and malformed pseudonyms of one product's data into violations."""
    found = [
        Violation(
            d.id,
            f"privacy.{f.kind}_in_data",
            f.describe() + f" in {d.sql_port}",
            f"find where {f.column} gets personal data upstream and pseudonymise or drop it; "
            "the product must not be published until then",
        )
        for f in findings
    ]
    for column, count in sorted(bad_pseudonyms.items()):
        if count:
            found.append(
                Violation(
                    d.id,
                    "privacy.pseudonym_malformed",
                    f"{count} value(s) of {column} are not HMAC-SHA256 hex digests, so the column "
                    "may carry clear values",
                    PSEUDONYMISE_FIX,
                )
            )
    return found
