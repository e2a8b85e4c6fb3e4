"""Limit sets as data: which values a run must meet, and where each rule comes from.

The shipped sets (``sec-h3.14g``, ``sec-relaxed``, ``dno-ena-2019``) live in
``harness/rules/data/limits.yaml``, a versioned file in which every limit cites its SEC or DNO
source and the file itself declares the quantities it bounds (the core knows none: the plans that
measure them do). A lab may load its own file with the same schema. A rig file's ``limit_sets:``
or the command line's ``--limit-set`` picks which sets a run is judged against; every verdict
names its set.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_LIMITS_FILE = Path(__file__).parent / "data" / "limits.yaml"
SCHEMA = "hubrig-limits/2"


class LimitError(ValueError):
    """A limits file that does not load, or a limit set name that is not in it."""


class Limit(BaseModel):
    """One bound on one quantity, applying to outages in a duration range."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quantity: str
    min: float | None = None
    max: float | None = None
    unit: str
    outage_min_s: float | None = None
    outage_min_inclusive: bool = True
    outage_max_s: float | None = Field(default=None, description="exclusive upper bound")
    required: bool = False
    """A missing value (no alert arrived) fails instead of being not applicable."""
    cite: str

    @model_validator(mode="after")
    def _check(self) -> "Limit":
        if self.min is None and self.max is None:
            raise ValueError("a limit needs min, max or both")
        return self

    def applies_to(self, outage_s: float | None) -> bool:
        """Whether this limit judges an outage of ``outage_s`` seconds (None: not outage-bound)."""
        if outage_s is None:
            return self.outage_min_s is None and self.outage_max_s is None
        if self.outage_min_s is not None:
            if outage_s < self.outage_min_s or (outage_s == self.outage_min_s and not self.outage_min_inclusive):
                return False
        return self.outage_max_s is None or outage_s < self.outage_max_s

    def passes(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        """Human form, e.g. ``poa_latency_s <= 240 s (outages >= 180 s)``."""
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        text = f"{self.quantity} {' and '.join(bounds)} {self.unit}"
        scope = self.scope()
        return text + (f" ({scope})" if scope else "")

    def scope(self) -> str:
        """When it applies, e.g. ``outages >= 180 s`` (empty: always)."""
        scope = []
        if self.outage_min_s is not None:
            scope.append(f"{'>=' if self.outage_min_inclusive else '>'} {self.outage_min_s:g} s")
        if self.outage_max_s is not None:
            scope.append(f"< {self.outage_max_s:g} s")
        return f"outages {' and '.join(scope)}" if scope else ""


class LimitSet(BaseModel):
    """A named, cited collection of limits (one regulator's or contract's view)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    title: str
    source: str
    citation: str = ""
    version: str = ""
    span: str = Field(default="", description="what the set's clock runs from and to (a bench measures the "
                                              "devices' share of it)")
    limits: list[Limit]

    def for_quantity(self, quantity: str) -> list[Limit]:
        return [lim for lim in self.limits if lim.quantity == quantity]

    def latency_limit(self, quantity: str, outage_s: float) -> Limit | None:
        """The latency limit that applies to an outage of ``outage_s``, if any."""
        return next((lim for lim in self.for_quantity(quantity) if lim.applies_to(outage_s)), None)


class LimitCatalog(BaseModel):
    """The contents of a limits file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(alias="schema")
    version: str
    quantities: dict[str, str] = Field(description="each quantity the file bounds -> what it is")
    sources: dict[str, str]
    limit_sets: dict[str, LimitSet]
    path: str = ""

    @model_validator(mode="after")
    def _link(self) -> "LimitCatalog":
        if self.schema_ != SCHEMA:
            raise ValueError(f"schema must be {SCHEMA!r}, not {self.schema_!r}")
        for name, ls in self.limit_sets.items():
            if ls.source not in self.sources:
                raise ValueError(f"limit set {name!r} cites unknown source {ls.source!r}")
            for i, lim in enumerate(ls.limits):
                if lim.quantity not in self.quantities:
                    raise ValueError(f"limit_sets.{name}.limits.{i}: quantity {lim.quantity!r} is not one of "
                                     f"the file's quantities ({', '.join(self.quantities)})")
        return self

    def names(self) -> list[str]:
        return list(self.limit_sets)

    def get(self, name: str) -> LimitSet:
        try:
            ls = self.limit_sets[name]
        except KeyError:
            raise LimitError(f"unknown limit set {name!r} in {self.path}; known: "
                             f"{', '.join(self.limit_sets)}") from None
        return ls.model_copy(update={"name": name, "citation": self.sources[ls.source],
                                     "version": self.version})

    def select(self, names: list[str] | None) -> list[LimitSet]:
        """The named sets in the order given (all of them when ``names`` is empty), duplicates dropped."""
        chosen = list(dict.fromkeys(names or self.limit_sets))
        return [self.get(n) for n in chosen]


def load_limits(path: str | Path | None = None) -> LimitCatalog:
    """Load and validate a limits file (default: the shipped one); errors name the file and field."""
    p = Path(path) if path is not None else DEFAULT_LIMITS_FILE
    return _load(str(p.resolve()))


@cache
def _load(path: str) -> LimitCatalog:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise LimitError(f"{path}: cannot read limits file: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise LimitError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise LimitError(f"{path}: a limits file is a mapping with schema, version, sources, limit_sets")
    try:
        return LimitCatalog.model_validate({**raw, "path": path})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise LimitError(f"{path}: {field or 'file'}: {first['msg']} "
                         f"({exc.error_count()} problem(s))") from None
