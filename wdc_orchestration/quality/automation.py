"""Declarative automation across domains: a model materialises when an upstream asset (its own
domain's staging, or another domain's product) updated for the latest day AND every blocking
check of its upstream assets passed. A failed ERROR check upstream leaves it alone."""

from __future__ import annotations

import dagster as dg


def when_upstream_trusted() -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
    ).with_label("eager once upstream blocking checks passed")
