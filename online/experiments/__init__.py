"""A/B experiments and canaries for the online tier: pure logic, no I/O at import.

- :mod:`online.experiments.variants` — the :class:`Variant` contract and ``parse_variants``;
- :mod:`online.experiments.assignment` — sticky weighted routing (``VariantRouter``);
- :mod:`online.experiments.override` — who may force a variant (debug keys, the admin token);
- :mod:`online.experiments.canary` — automatic canary rollback (``CanaryGuard``);
- :mod:`online.experiments.report` — per-variant statistics for ``tandem ab report``;
- :mod:`online.experiments.streams` — reading the query-log and feedback streams;
- :mod:`online.experiments.service` — the experiments a running service holds (`Experiments`).
"""

from __future__ import annotations

from online.experiments.assignment import VARIANT_HEADER, Assignment, VariantRouter
from online.experiments.canary import CanaryGuard, CanaryPolicy, RollbackEvent
from online.experiments.override import DEBUG_KEY_HEADER, OverridePermission
from online.experiments.variants import (
    DEFAULT_VARIANT,
    ExperimentError,
    Variant,
    VariantError,
    parse_variants,
)

__all__ = [
    "DEBUG_KEY_HEADER",
    "DEFAULT_VARIANT",
    "VARIANT_HEADER",
    "Assignment",
    "CanaryGuard",
    "CanaryPolicy",
    "ExperimentError",
    "OverridePermission",
    "RollbackEvent",
    "Variant",
    "VariantError",
    "VariantRouter",
    "parse_variants",
]
