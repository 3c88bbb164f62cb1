"""A policy violation: which product, which rule, why it is one and how to fix it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Policy(StrEnum):
    """The five federated policies of the mesh, plus the two product-contract rules."""

    SECURITY = "security"
    PRIVACY = "privacy"
    COMPLIANCE = "compliance"
    INTEROPERABILITY = "interoperability"
    DOCUMENTATION = "documentation"
    CONTRACT = "contract"  # descriptor and dbt YAML agree
    VERSIONING = "versioning"  # no breaking change without a major bump


@dataclass(frozen=True, order=True)
class Violation:
    product: str  # `<domain>.<product>`, or a dbt node / domain when no product is involved
    rule: str  # `<policy>.<rule>`, e.g. privacy.personal_in_clear
    why: str
    fix: str

    @property
    def policy(self) -> Policy:
        return Policy(self.rule.split(".", 1)[0])

    def line(self) -> str:
        return f"{self.product}: {self.rule}: {self.why} -> fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {**asdict(self), "policy": self.policy.value}
