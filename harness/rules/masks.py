"""RF noise masks and radio bands as data, and the rig file's ``rf_noise:`` section.

A **mask file** (schema ``hubrig-mask/1``) is a cited, versioned list of segments: a frequency
range, a limit level and its unit (dBm, or dBuV into 50 ohm), the resolution bandwidth and the
detector the limit is specified with. A **bands file** (``hubrig-bands/1``) names frequency ranges
(the ZigBee 2.4 GHz HAN, the sub-GHz HAN, the WAN bands a lab configures per Comms Hub variant).
Both load with ``file:line: field: problem`` errors like rig files.

The ICHIS RF noise limit values are not in hubrig's sources: the shipped masks are **examples**
(their name contains ``example`` and ``not-ichis``, their citation says so) that let the virtual
rig and hubrig's tests run. A lab points ``rf_noise.bands[].mask`` at its own mask files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from hubrig.drivers.analyser.dialects import Detector

if TYPE_CHECKING:  # numpy is imported where traces are judged, so rig files load without it
    import numpy as np
    from numpy.typing import NDArray

DATA_DIR = Path(__file__).parent / "data" / "masks"
DEFAULT_BANDS_FILE = DATA_DIR / "bands.yaml"
MASK_SCHEMA, BANDS_SCHEMA = "hubrig-mask/1", "hubrig-bands/1"
DBUV_TO_DBM = -107.0
"""dBuV into 50 ohm to dBm: P[dBm] = V[dBuV] - 107 (10 log10(1e-12 / 50 / 1e-3) = -106.99)."""
ZIGBEE_FIRST, ZIGBEE_LAST = 11, 26
MAX_SEGMENTS = 1000


class MaskError(ValueError):
    """A mask or bands file that cannot be used (the message names file:line and the field)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def zigbee_channels() -> dict[int, float]:
    """ZigBee 2.4 GHz channel -> centre (MHz): channel k at 2405 + 5(k - 11), k = 11..26."""
    return {k: 2405.0 + 5.0 * (k - ZIGBEE_FIRST) for k in range(ZIGBEE_FIRST, ZIGBEE_LAST + 1)}


class Segment(_Model):
    """One piece of a mask: ``limit`` (in ``unit``) from ``start_mhz`` up to ``stop_mhz``."""

    start_mhz: float = Field(ge=0, allow_inf_nan=False)
    stop_mhz: float = Field(gt=0, allow_inf_nan=False)
    limit: float = Field(allow_inf_nan=False, ge=-300, le=200)
    unit: Literal["dBm", "dBuV"]
    rbw_hz: float = Field(gt=0, le=50e6, allow_inf_nan=False)
    vbw_hz: float | None = Field(default=None, gt=0, le=50e6, allow_inf_nan=False)
    detector: Detector = "peak"

    @model_validator(mode="after")
    def _ordered(self) -> "Segment":
        if self.stop_mhz <= self.start_mhz:
            raise PydanticCustomError("rig_mask", f"stop_mhz {self.stop_mhz:g} is not above start_mhz {self.start_mhz:g}")
        return self

    @property
    def limit_dbm(self) -> float:
        return self.limit + (DBUV_TO_DBM if self.unit == "dBuV" else 0.0)


class Mask(_Model):
    """A mask file's contents."""

    schema_: Literal["hubrig-mask/1"] = Field(alias="schema")
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    example: bool = False
    segments: list[Segment] = Field(min_length=1, max_length=MAX_SEGMENTS)
    path: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _quoted(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise PydanticCustomError("rig_version", f'YAML read {v!r} as a number; quote versions: "1.0"')
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "Mask":
        for i, (a, b) in enumerate(zip(self.segments, self.segments[1:])):
            if b.start_mhz < a.stop_mhz:
                raise PydanticCustomError("rig_field", f"segment {i + 1} starts at {b.start_mhz:g} MHz, inside "
                                          f"segment {i} (ends {a.stop_mhz:g} MHz): segments go up in frequency "
                                          "and do not overlap", {"at": ("segments", i + 1, "start_mhz")})
        says_example = "example" in self.name.lower() and "example" in self.citation.lower()
        if self.example and not says_example:
            raise PydanticCustomError("rig_field", "an example mask says so in its name and its citation",
                                      {"at": ("name",)})
        return self

    def limit_at(self, freq_hz: NDArray[np.float64]) -> NDArray[np.float64]:
        """The limit (dBm) at each frequency; NaN where no segment covers it."""
        import numpy as np

        limits = np.full(freq_hz.shape, np.nan)
        for i, seg in enumerate(self.segments):
            last = i == len(self.segments) - 1
            inside = (freq_hz >= seg.start_mhz * 1e6) & ((freq_hz <= seg.stop_mhz * 1e6) if last
                                                          else (freq_hz < seg.stop_mhz * 1e6))
            limits[inside] = seg.limit_dbm
        return limits

    def cite(self) -> str:
        return f"{self.name} v{self.version}: {self.citation}"


class Band(_Model):
    """A named frequency range the plan sweeps."""

    title: str
    kind: Literal["han", "wan"]
    start_mhz: float = Field(ge=0, allow_inf_nan=False)
    stop_mhz: float = Field(gt=0, allow_inf_nan=False)
    channels: Literal["zigbee-2g4"] | None = None
    citation: str = Field(min_length=1)
    name: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> "Band":
        if self.stop_mhz <= self.start_mhz:
            raise PydanticCustomError("rig_mask", f"stop_mhz {self.stop_mhz:g} is not above start_mhz {self.start_mhz:g}")
        return self


class BandCatalog(_Model):
    schema_: Literal["hubrig-bands/1"] = Field(alias="schema")
    version: str
    bands: dict[str, Band]
    path: str = ""


# ------------------------------------------------------------------ loading, with file:line errors


def _load_yaml_model(path: Path, model: type[BaseModel], what: str) -> Any:
    from hubrig.harness.rig.file import _line_for, _reject_duplicate_keys  # the rig loader's line finder

    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MaskError(f"{shown}: cannot read {what}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MaskError(f"{shown}: not a text (UTF-8) file") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise MaskError(f"{shown}:1: the {what} is empty")
        try:
            _reject_duplicate_keys(node, shown)
        except ValueError as exc:
            raise MaskError(str(exc)) from None
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise MaskError(f"{shown}:{mark.line + 1 if mark else 1}: YAML syntax: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise MaskError(f"{shown}: YAML: {exc}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise MaskError(f"{shown}:{node.start_mark.line + 1}: a {what} is a mapping, got {type(data).__name__}")
    try:
        return model.model_validate({**data, "path": shown})
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"]) + tuple((err.get("ctx") or {}).get("at", ()))
            where = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"{shown}:{_line_for(node, loc)}: {where}: {err['msg'].removeprefix('Value error, ')}")
        raise MaskError("\n".join(lines)) from None


@cache
def _load_mask(path: str) -> Mask:
    return _load_yaml_model(Path(path), Mask, "mask file")


@cache
def _load_bands(path: str) -> BandCatalog:
    catalog: BandCatalog = _load_yaml_model(Path(path), BandCatalog, "bands file")
    return catalog.model_copy(update={"bands": {k: b.model_copy(update={"name": k}) for k, b in catalog.bands.items()}})


def shipped_masks() -> dict[str, Path]:
    """The shipped (example) masks by name."""
    return {p.stem: p for p in sorted(DATA_DIR.glob("*.yaml")) if p.name != DEFAULT_BANDS_FILE.name}


def load_mask(where: str | Path) -> Mask:
    """A mask: a shipped mask's name, or a path to a mask file; :class:`MaskError` (file:line)."""
    shipped = shipped_masks()
    path = shipped.get(str(where)) or Path(where)
    if not path.is_file():
        raise MaskError(f"no mask file at {where} (shipped masks: {', '.join(shipped)})")
    return _load_mask(str(path.resolve()))


def load_bands(path: str | Path | None = None) -> BandCatalog:
    """The bands file (default: the shipped one); :class:`MaskError` (file:line)."""
    return _load_bands(str(Path(path or DEFAULT_BANDS_FILE).resolve()))


# --------------------------------------------------------------------- the rig file's rf_noise section

OperatingState = Literal["idle", "active"]


class BandChoice(_Model):
    """One band to sweep and the mask it is judged against (a shipped name or a path)."""

    band: str = Field(min_length=1)
    mask: str = Field(min_length=1, description="a shipped mask's name or a mask file, relative to the rig file")


class RfNoiseConfig(_Model):
    """``rf_noise:``: what the RF noise plan sweeps and judges (see docs/rigs.md)."""

    bands: list[BandChoice] = Field(min_length=1)
    bands_file: Path | None = Field(default=None, description="extra bands (a lab's WAN bands), relative to the rig file")
    max_hold_sweeps: int = Field(default=5, ge=1, le=1000)
    points: int = Field(default=1001, ge=11, le=100_001)
    states: list[OperatingState] = Field(default_factory=lambda: ["idle", "active"], min_length=1)
    settle_s: float = Field(default=5.0, ge=0, le=600, description="wait after mains on before sweeping")

    @field_validator("bands_file")
    @classmethod
    def _bands_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None:
            return None
        base = (info.context or {}).get("base_dir")
        path = v.expanduser() if v.is_absolute() or base is None else (Path(base) / v).resolve()
        try:
            load_bands(path)
        except MaskError as exc:
            raise PydanticCustomError("rig_mask", str(exc))
        return path

    @field_validator("bands")
    @classmethod
    def _bands_known(cls, v: list[BandChoice], info: ValidationInfo) -> list[BandChoice]:
        base = (info.context or {}).get("base_dir")
        out = []
        for i, choice in enumerate(v):
            mask = choice.mask
            if mask not in shipped_masks() and base is not None and not Path(mask).is_absolute():
                mask = str((Path(base) / mask).resolve())
            try:
                load_mask(mask)
            except MaskError as exc:
                raise PydanticCustomError("rig_field", f"{exc}", {"at": (i, "mask")})
            out.append(choice.model_copy(update={"mask": mask}))
        return out

    @model_validator(mode="after")
    def _bands_exist(self) -> "RfNoiseConfig":
        known = self.catalog()
        for i, choice in enumerate(self.bands):
            if choice.band not in known:
                raise PydanticCustomError("rig_field", f"unknown band {choice.band!r}; known: {', '.join(known)}",
                                          {"at": ("bands", i, "band")})
            band, mask = known[choice.band], load_mask(choice.mask)
            if not any(s.start_mhz < band.stop_mhz and s.stop_mhz > band.start_mhz for s in mask.segments):
                raise PydanticCustomError("rig_field", f"mask {mask.name} has no segment inside band {band.name} "
                                          f"({band.start_mhz:g}-{band.stop_mhz:g} MHz)", {"at": ("bands", i, "mask")})
        return self

    def catalog(self) -> dict[str, Band]:
        """Every band the rig may name: the shipped ones and ``bands_file``'s (which win)."""
        bands = dict(load_bands().bands)
        if self.bands_file is not None:
            bands.update(load_bands(self.bands_file).bands)
        return bands

    def plan(self) -> list["BandPlan"]:
        """Each chosen band with its mask and the sweeps (segments clipped to the band) it needs."""
        known = self.catalog()
        out = []
        for choice in self.bands:
            band, mask = known[choice.band], load_mask(choice.mask)
            sweeps = [SweepSpec(max(s.start_mhz, band.start_mhz) * 1e6, min(s.stop_mhz, band.stop_mhz) * 1e6,
                                s.rbw_hz, s.vbw_hz or s.rbw_hz * 3, s.detector)
                      for s in mask.segments if s.start_mhz < band.stop_mhz and s.stop_mhz > band.start_mhz]
            out.append(BandPlan(band, mask, sweeps))
        return out


@dataclass(frozen=True)
class SweepSpec:
    """One sweep of a band: start/stop (Hz), RBW, VBW (Hz) and detector, from one mask segment."""

    start_hz: float
    stop_hz: float
    rbw_hz: float
    vbw_hz: float
    detector: Detector


@dataclass(frozen=True)
class BandPlan:
    band: Band
    mask: Mask
    sweeps: list[SweepSpec]


def emission_dbm(powered_dbm: NDArray[np.float64], reference_dbm: NDArray[np.float64],
                 floor_dbm: float = -300.0) -> NDArray[np.float64]:
    """What the ESME adds: the powered trace minus the reference, as power (mW), in dBm; where the
    powered trace is not above the reference the emission is ``floor_dbm`` (nothing measurable)."""
    import numpy as np

    added = np.power(10.0, powered_dbm / 10.0) - np.power(10.0, reference_dbm / 10.0)
    with np.errstate(divide="ignore"):
        out = np.where(added > 0, 10.0 * np.log10(np.where(added > 0, added, 1.0)), floor_dbm)
    return np.maximum(out, floor_dbm)


@dataclass(frozen=True)
class Violation:
    """A sweep point whose emission is above the mask: margin = limit - level (negative)."""

    freq_hz: float
    level_dbm: float
    limit_dbm: float

    @property
    def margin_db(self) -> float:
        return self.limit_dbm - self.level_dbm


def judge(freq_hz: NDArray[np.float64], emission: NDArray[np.float64], mask: Mask) -> tuple[list[Violation], float, float]:
    """Every point above ``mask`` as a :class:`Violation`, and the worst margin (dB) with its
    frequency (NaN when no point is under the mask)."""
    import numpy as np

    limits = mask.limit_at(freq_hz)
    covered = ~np.isnan(limits)
    if not covered.any():
        return [], math.nan, math.nan
    margins = np.where(covered, limits - emission, np.inf)
    worst = int(np.argmin(margins))
    over = np.nonzero(covered & (emission > limits))[0]
    violations = [Violation(float(freq_hz[i]), float(emission[i]), float(limits[i])) for i in over]
    return violations, float(margins[worst]), float(freq_hz[worst])
