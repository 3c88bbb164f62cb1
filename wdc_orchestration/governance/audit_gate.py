"""The federated governance policies as the dbt step's audit gate: every policy of every product
the step built is judged on the audited rows (the run's window in the domain's audit schema),
before they are published. A blocking policy that fails publishes nothing (the product's table
and its Parquet port keep their last good version); the others warn.

The checks are `policy_<policy>` on each product asset, reported by the domain's dbt step."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from wdc_orchestration.governance.descriptor import ProductDescriptor, load_descriptors
from wdc_orchestration.governance.policies import (
    BLOCKING_POLICIES,
    by_policy,
    evaluate,
    load_inputs,
)
from wdc_orchestration.governance.publishing import published_contract
from wdc_orchestration.governance.violations import Policy
from wdc_orchestration.mesh.spec import AuditContext, AuditGate, DomainSpec
from wdc_orchestration.resources.lake import LakeStorage

POLICY_DESCRIPTIONS = {
    Policy.SECURITY: "Reads across domains only through products that list the reader.",
    Policy.PRIVACY: "No personal/sensitive column in clear; no CPF, CNPJ, e-mail or phone in data.",
    Policy.COMPLIANCE: "Every column classified; retention and owner set.",
    Policy.INTEROPERABILITY: "snake_case, money DECIMAL(18,2) BRL, UTC timestamptz, shared keys.",
    Policy.DOCUMENTATION: "Product, purpose, owner and every column described.",
    Policy.CONTRACT: "The descriptor, the dbt YAML and the table agree.",
    Policy.VERSIONING: "No breaking change against the published contract without a major bump.",
}


def product_key(d: ProductDescriptor) -> dg.AssetKey:
    return dg.AssetKey([d.domain, d.name])


def check_name(policy: Policy) -> str:
    return f"policy_{policy.value}"


def policy_check_specs(d: ProductDescriptor) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=check_name(policy),
            asset=product_key(d),
            description=POLICY_DESCRIPTIONS[policy]
            + (
                " Blocking: judged on the run's audited rows, before they are published."
                if policy in BLOCKING_POLICIES
                else " Warns only."
            ),
            blocking=policy in BLOCKING_POLICIES,
        )
        for policy in Policy
    ]


def _results(
    d: ProductDescriptor, audit: AuditContext, lake: LakeStorage
) -> Iterator[dg.AssetCheckResult]:
    selected = {
        check_name(policy)
        for policy in Policy
        if dg.AssetCheckKey(product_key(d), check_name(policy)) in audit.selected_check_keys
    }
    if not selected:
        return
    inputs = load_inputs(lake=lake)
    current = inputs.descriptors[d.id]
    # What this step built is judged in the audit schema; a product it did not build (a check
    # run on its own) is judged as published.
    schemas = {d.id: audit.audit_schema} if d.name in audit.built_tables else {}
    violations = evaluate(
        inputs,
        conn=audit.conn,
        published={d.id: published_contract(lake, d.domain, d.name)},
        products=[d.id],
        window=audit.window,
        schemas=schemas,
    )
    for policy, found in by_policy(violations, current.id).items():
        if check_name(policy) not in selected:
            continue
        for v in found:
            audit.log.warning(v.line())
        blocking = policy in BLOCKING_POLICIES
        yield dg.AssetCheckResult(
            asset_key=product_key(d),
            check_name=check_name(policy),
            passed=not found,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            description="; ".join(v.why for v in found)[:1000] or None,
            metadata={
                "violations": len(found),
                "judged": "audited rows, before publishing" if schemas else "published table",
                "details": dg.MarkdownMetadataValue(
                    "\n".join(f"- **{v.rule}**: {v.why} — *fix:* {v.fix}" for v in found) or "none"
                ),
            },
        )


def policy_gate(spec: DomainSpec) -> AuditGate | None:
    """The policies of `spec`'s products, as an audit gate of its dbt step (None: no product)."""
    descriptors = list(load_descriptors(domain=spec.name).values())
    if not descriptors:
        return None

    def _evaluate(audit: AuditContext) -> list[dg.AssetCheckResult]:
        return [result for d in descriptors for result in _results(d, audit, audit.lake)]

    return AuditGate(
        name="governance policies",
        check_specs=[s for d in descriptors for s in policy_check_specs(d)],
        evaluate=_evaluate,
    )
