"""Rig files: the YAML description of a bench (or of the virtual rig), as pydantic models.

:func:`load_rig` reads a rig file and returns a :class:`RigFile`, or raises
:class:`RigFileError` whose message names the file, the line, the field and what was expected,
e.g. ``rigs/bench.yaml:14: instruments.supply.dialect: 'keysite' is not one of generic-scpi, ...``.
Relative paths in a rig file resolve against the rig file's own folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model,
                      field_validator, model_validator)
from pydantic_core import PydanticCustomError

from hubrig.harness.rules.masks import RfNoiseConfig
from hubrig.harness.virtual.faults import BenchServe
from hubrig.harness.virtual.params import VirtualParams

Dialect = Literal["generic-scpi", "keysight-ac6800", "chroma-61500", "keysight-e36xx", "rigol-dp800",
                  "aimtti-pl", "pacific-afx"]
DIALECTS = get_args(Dialect)
"""The supply dialects a rig file may name (the driver's registry, ``hubrig.drivers.psu.dialects.MODULES``)."""
DeviceType = Literal["ESMETS", "GSMETS", "CHTS", "IHDTS", "PPMIDTS", "HCALCSTS", "CADTS"]
VIRTUAL = "virtual"
_EUI = re.compile(r"^[0-9A-F]{16}$")
_VERSION = re.compile(r"^\d+(\.\d+)*$")
INSTALL_CODE_BYTES = 16
DEFAULT_ALERT_FILTER_BITS = {"81C6": 0x81C6 & 0xFF}
"""Which bit of the ESME's 256-bit behaviour objects (ECS25a alerts sent, ECS25a3 events logged,
read by ECS25r1) stands for which alert. The GBCS bit for 0x81C6 is not in the shipped sources
(RTDS, public GBCS tables): this default is the virtual rig's convention (the code's low byte); a
real bench sets ``dut.esme.alert_filter_bits`` from the meter's documentation."""


class RigFileError(ValueError):
    """A rig file that cannot be used; the message is ready to show (file:line: field: problem)."""


def field_problem(at: tuple[str | int, ...], message: str) -> PydanticCustomError:
    """A validation error about field ``at`` (relative to the model raising it), for cross-field
    rules whose natural location is not the validator's own."""
    return PydanticCustomError("rig_field", message, {"at": at})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _eui(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "rig_eui", f'YAML read this EUI-64 as the number {value}; quote it: "00DB1234567890A0"')
    if not isinstance(value, str) or not _EUI.match(value.upper()):
        raise PydanticCustomError("rig_eui", f"expected an EUI-64 as 16 hex digits, got {value!r}")
    return value.upper()


def _version(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise PydanticCustomError(
            "rig_version", f'YAML read {value!r} as a number; quote versions: "4.2"')
    if not isinstance(value, str) or not _VERSION.match(value):
        raise PydanticCustomError("rig_version", f'expected a version like "4.2", got {value!r}')
    return value


class SafetyLimits(_Model):
    """Hard limits no set-point may exceed (checked before anything is sent): finite numbers, typed
    as numbers (``"253"`` or ``true`` are refused, not coerced)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    max_voltage: float = Field(gt=0, description="V")
    max_current: float = Field(gt=0, description="A")
    min_frequency: float | None = Field(default=None, gt=0, description="Hz, AC sources (required for them)")
    max_frequency: float | None = Field(default=None, gt=0, description="Hz, AC sources (required for them)")

    @model_validator(mode="after")
    def _frequency_range(self) -> "SafetyLimits":
        low, high = self.min_frequency, self.max_frequency
        if low is not None and high is not None and low > high:
            raise field_problem(("min_frequency",), f"{low:g} Hz is above max_frequency {high:g} Hz")
        return self


OFF_MAX_FRACTION = 0.25
"""``verify_off_max_v`` may be at most this share of the set-point: "off" must mean off."""


def check_supply_safety(cfg: "SupplyConfig") -> None:
    """Cross-field safety rules of a supply section that no rig file can argue away: an AC source's
    frequency is always bounded; off-verification cannot accept a live output."""
    from hubrig.drivers.psu.dialects import get_dialect

    safety = cfg.safety
    if get_dialect(cfg.dialect).ac or cfg.frequency is not None:
        missing = [f for f in ("min_frequency", "max_frequency") if getattr(safety, f) is None]
        if missing:
            raise field_problem(("safety",), f"{' and '.join(missing)} required: an AC source's frequency is "
                                             "always bounded")
        if cfg.frequency is None:
            raise field_problem(("frequency",), f"required for the AC source {cfg.dialect}: the set-point the "
                                                "safety frequency limits check")
    if not cfg.verify:
        return
    if cfg.voltage <= 0:
        raise field_problem(("voltage",), "must be above 0 V when verify is on (on and off would look alike)")
    off_cap = cfg.voltage * OFF_MAX_FRACTION
    if cfg.verify_off_max_v is not None and cfg.verify_off_max_v > off_cap:
        raise field_problem(("verify_off_max_v",), f"{cfg.verify_off_max_v:g} V would accept a live output as off: "
                            f"at most {OFF_MAX_FRACTION:.0%} of voltage {cfg.voltage:g} V ({off_cap:g} V)")
    off_v = cfg.verify_off_max_v if cfg.verify_off_max_v is not None else max(cfg.voltage * 0.1, 0.5)
    if cfg.verify_on_min_v is not None and cfg.verify_on_min_v <= off_v:
        raise field_problem(("verify_on_min_v",), f"{cfg.verify_on_min_v:g} V is not above the off threshold "
                            f"{off_v:g} V: on and off would overlap")


class SupplyConfig(_Model):
    """A SCPI bench supply or AC source reached through pyvisa."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    resource: str = Field(min_length=1, description='VISA resource string; "virtual" on the virtual rig')
    dialect: Dialect = "generic-scpi"
    channel: int = Field(default=1, ge=1)
    safety: SafetyLimits
    voltage: float = Field(ge=0, description="set-point while mains is on (V, rms for AC sources)")
    current_limit: float = Field(gt=0, description="A")
    frequency: float | None = Field(default=None, gt=0, description="Hz, AC sources only")
    verify: bool = True
    verify_on_min_v: float | None = Field(default=None, ge=0, description="measured volts that confirm "
                                          "mains on (default 90 % of the set-point)")
    verify_off_max_v: float | None = Field(default=None, ge=0, description="measured volts that confirm "
                                           "mains off (default 10 % of the set-point, at least 0.5 V)")
    verify_timeout_s: float = Field(default=1.0, gt=0, description="how long the measurement may take to settle")
    timeout_s: float = Field(default=5.0, gt=0)
    visa_library: str = "@py"

    @field_validator("visa_library")
    @classmethod
    def _library_relative_to_rig_file(cls, v: str, info: ValidationInfo) -> str:
        """A library file (``path/sim.yaml@sim``, ``lib/libvisa.so``) resolves against the rig file's folder."""
        path, at, backend = v.rpartition("@") if "@" in v else (v, "", "")
        if not path:
            return v
        return str(_resolve(Path(path), info)) + at + backend

    @field_validator("voltage", "current_limit", "frequency")
    @classmethod
    def _within_safety(cls, v: float | None, info: ValidationInfo) -> float | None:
        """A set-point outside ``safety`` is refused at its own line, before any instrument is touched."""
        safety = info.data.get("safety")
        if v is None or safety is None:
            return v
        unit, quantity = _SAFETY_BOUNDS[info.field_name]
        high, low = getattr(safety, f"max_{quantity}"), getattr(safety, f"min_{quantity}", None)
        if high is not None and v > high:
            raise PydanticCustomError("rig_safety", f"{v:g} {unit} is above safety.max_{quantity} {high:g} {unit}")
        if low is not None and v < low:
            raise PydanticCustomError("rig_safety", f"{v:g} {unit} is below safety.min_{quantity} {low:g} {unit}")
        return v


    _safe = model_validator(mode="after")(lambda self: (check_supply_safety(self), self)[1])


_SAFETY_BOUNDS = {"voltage": ("V", "voltage"), "current_limit": ("A", "current"), "frequency": ("Hz", "frequency")}
"""Set-point field -> (unit, the quantity its ``safety.max_*`` / ``safety.min_*`` limits bound)."""


class RelayConfig(_Model):
    """A HID USB relay board (16c0:05df) switching the ESME's mains."""

    vendor_id: int = Field(default=0x16C0, ge=0, le=0xFFFF)
    product_id: int = Field(default=0x05DF, ge=0, le=0xFFFF)
    serial: str | None = None
    channel: int = Field(default=1, ge=1, le=8)
    mains_on_when: Literal["closed", "open"] = "closed"


class ItchConfig(_Model):
    """The Wired ITCH's serial link."""

    port: str = Field(min_length=1, description='device path or pyserial URL; "virtual" on the virtual rig')
    baudrate: int = Field(default=115200, gt=0)
    framing: str = Field(default="gfi", pattern=r"^[a-z][a-z0-9_-]*$")
    poa_notification: str = r"^DCC:ALERT#0:AD1:(?P<eui>[0-9A-F]{16})$"
    pra_notification: str | None = r"^DCC:ALERT#0:PRA:(?P<eui>[0-9A-F]{16})$"
    """A Comms Hub's own restoration notification (North option B); its real form is not public."""
    reconnect_s: float = Field(default=2.0, gt=0)

    @field_validator("poa_notification", "pra_notification")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        try:
            re.compile(v or "")
        except re.error as exc:
            raise PydanticCustomError("rig_regex", f"not a valid regular expression: {exc}")
        return v


class Instruments(_Model):
    """The ``instruments:`` section: one sub-section per instrument family (the families shipped
    with hubrig are declared here; :func:`rig_model` adds the other registered ones)."""

    supply: SupplyConfig | None = None
    relay: RelayConfig | None = None
    mains_switch: str = Field(default="supply", description="the instrument that switches the DUT's mains")
    itch: ItchConfig

    @model_validator(mode="after")
    def _switch_configured(self) -> "Instruments":
        from hubrig.harness.rig.instruments import families

        switches = [f.key for f in families() if f.mains_switch]
        v = self.mains_switch
        if v not in switches:
            raise field_problem(("mains_switch",), f"{v!r} is not one of {', '.join(switches)}")
        if self.section(v) is None:
            raise field_problem(("mains_switch",), f"mains_switch is {v!r} but instruments.{v} is not configured")
        return self

    def section(self, key: str) -> BaseModel | None:
        """The configured section of family ``key`` (``None`` when absent)."""
        value = getattr(self, key) if key in type(self).model_fields else None
        return value if isinstance(value, BaseModel) else None


_models: dict[tuple[tuple[str, type[BaseModel]], ...], type["RigFile"]] = {}


def rig_model() -> type["RigFile"]:
    """The rig-file model with an ``instruments.<key>`` section for every registered family (a
    subclass of :class:`RigFile`; the shipped families' sections are :class:`Instruments`' own)."""
    from hubrig.harness.rig.instruments import families

    extra = tuple((f.key, f.section) for f in families()
                  if f.key not in Instruments.model_fields
                  or _model_of(Instruments.model_fields[f.key].annotation) is not f.section)
    if not extra:
        return RigFile
    if extra not in _models:
        instruments = create_model("Instruments", __base__=Instruments,
                                   **{key: (section | None, None) for key, section in extra})
        _models[extra] = create_model("RigFile", __base__=RigFile, instruments=(instruments, ...))
    return _models[extra]


class DeviceIdentity(_Model):
    eui: str
    type: DeviceType
    spec_version: str = Field(description="SMETS/CHTS (etc.) version, e.g. \"4.2\"")
    gbcs_version: str
    firmware: str = Field(min_length=1)

    _check_eui = field_validator("eui", mode="before")(lambda cls, v: _eui(v))
    _check_versions = field_validator("spec_version", "gbcs_version", mode="before")(lambda cls, v: _version(v))

    @field_validator("firmware", mode="before")
    @classmethod
    def _firmware_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def install_code_crc(code: bytes) -> bytes:
    """The ZigBee install code CRC (CRC-16/X-25), as appended to the code: low byte first."""
    crc = 0xFFFF
    for byte in code:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return (crc ^ 0xFFFF).to_bytes(2, "little")


def _install_code(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9A-Fa-f]*", value):
        raise PydanticCustomError("rig_install_code", "expected the install code as hex digits (quote it)")
    raw = bytes.fromhex(value) if len(value) % 2 == 0 else b""
    if len(raw) != INSTALL_CODE_BYTES + 2:
        raise PydanticCustomError(
            "rig_install_code", f"expected {INSTALL_CODE_BYTES} bytes and their 2-byte CRC "
                                f"({2 * INSTALL_CODE_BYTES + 4} hex digits), got {len(value)} hex digits")
    code, crc = raw[:INSTALL_CODE_BYTES], raw[INSTALL_CODE_BYTES:]
    if install_code_crc(code) != crc:
        raise PydanticCustomError(
            "rig_install_code", f"CRC {crc.hex().upper()} does not match the code (expected "
                                f"{install_code_crc(code).hex().upper()}): is a digit mistyped?")
    return value.upper()


def _alert_code(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"(0x)?[0-9A-Fa-f]{4}", value):
        raise PydanticCustomError("rig_alert_code", f'expected an alert code as 4 quoted hex digits ("81C6"), '
                                                    f"got {value!r}")
    return value[-4:].upper()


class EsmeIdentity(DeviceIdentity):
    """The ESME: identity, and what the plans need to command it."""

    type: DeviceType = "ESMETS"
    install_code: str | None = Field(
        default=None, repr=False,
        description="hex: the 16-byte install code and its ZigBee CRC (CCS01 carries the 16 bytes)")
    alert_filter_bits: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_ALERT_FILTER_BITS),
        description="alert code (4 hex) -> its bit in the ESME behaviour objects (ECS25a / ECS25a3 / ECS25r1, 0..255)")

    reboot_command: list[str] | None = Field(
        default=None, min_length=1,
        description="argv of a command that makes the ESME reboot its firmware with mains on (the "
                    "power-outage plan's false-POA scenario); without it that scenario skips on a real bench")
    read_power_event_log: bool = Field(
        default=True,
        description="after each power-outage trial, read the ESME's power event log (ECS35e) and check its "
                    "interruption and restoration entries; false for an ESME that cannot be commanded")
    phases: Literal[1, 3] = Field(
        default=1, description="1: single-phase ESME; 3: polyphase (the per-phase outage scenario runs, "
                               "and restoration alerts carry the phase codes 0x8F37-0x8F3C)")

    _check_install_code = field_validator("install_code", mode="before")(lambda cls, v: _install_code(v))

    @field_validator("alert_filter_bits", mode="before")
    @classmethod
    def _filter_bits(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        out = {}
        for code, bit in v.items():
            if not isinstance(bit, int) or isinstance(bit, bool) or not 0 <= bit < 256:
                raise PydanticCustomError("rig_filter_bit", f"{code}: expected a bit number 0..255, got {bit!r}")
            out[_alert_code(code)] = bit
        return out

    @property
    def install_code_bytes(self) -> bytes | None:
        """The install code CCS01 carries (without its CRC), or ``None`` if the rig file has none."""
        return None if self.install_code is None else bytes.fromhex(self.install_code)[:INSTALL_CODE_BYTES]

    @property
    def filter_bits(self) -> dict[int, int]:
        """Alert code -> behaviour bit, as numbers."""
        return {int(code, 16): bit for code, bit in self.alert_filter_bits.items()}


class StormPolicy(_Model):
    """How an alert storm (a flapping supply) is judged: ``every`` restoration alerted (ENA: PRAs for
    all outages), or ``consolidated`` to at most ``max_alerts`` restoration alerts per ``window_s``
    with the last state correct (a consolidation a CSP may apply under DP119)."""

    mode: Literal["every", "consolidated"] = "every"
    max_alerts: int = Field(default=1, ge=1, le=1000)
    window_s: float = Field(default=300.0, gt=0, le=86400, allow_inf_nan=False)


class CommsHubIdentity(DeviceIdentity):
    type: DeviceType = "CHTS"
    csp_region: Literal["north", "central", "south", "central-south"]


class Dut(_Model):
    """The devices under test and the keys to talk to them."""

    esme: EsmeIdentity
    comms_hub: CommsHubIdentity
    keystore: Path | None = Field(
        default=None, description="key store folder, relative to the rig file; the virtual rig "
        "defaults to its own test keys, made on first use")
    acb: str = Field(description="Access Control Broker EUI-64")
    supplier: str | None = Field(
        default=None, description="EUI-64 of the supplier party that commands the ESME (ECS70, "
        "ECS25a3, ECS35a) and is the CHF commands' supplementary remote party; absent: the ACB's")
    clock_tolerance_s: float = Field(default=10, ge=0)
    storm_policy: StormPolicy = Field(default_factory=StormPolicy,
                                      description="how the flapping-supply scenario judges an alert storm")
    network_allowance_s: float | None = Field(
        default=None, ge=0, le=3600, allow_inf_nan=False,
        description="seconds the network (WAN, DSP, DCC) is allowed after the devices: a bench measures "
                    "the devices' share only; the report adds this to show the end-to-end margin")

    _check_acb = field_validator("acb", mode="before")(lambda cls, v: _eui(v))
    _check_supplier = field_validator("supplier", mode="before")(lambda cls, v: None if v is None else _eui(v))

    @property
    def supplier_party(self) -> str:
        """The supplier EUI the harness commands as: ``supplier``, else the ACB."""
        return self.supplier or self.acb

    @field_validator("keystore")
    @classmethod
    def _relative_to_rig_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)


class TsatConfig(_Model):
    on_violation: Literal["warn", "fail"] = "warn"
    table: Path | None = Field(
        default=None, description="TSAT table file, relative to the rig file (default: the shipped one)")

    @field_validator("table")
    @classmethod
    def _table_file(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        if v is None:
            return None
        path = _resolve(v, info)
        if not path.is_file():
            raise PydanticCustomError("rig_tsat_table", f"no TSAT table file at {path}")
        return path

    def load_table(self) -> Any:
        """The TSAT table to judge against (:class:`hubrig.harness.rules.tsat.TsatTable`): ``table``, else the
        shipped one; :class:`hubrig.harness.rules.tsat.TsatError` (file:line) if the file is not a table."""
        from hubrig.harness.rules import tsat

        return tsat.default_table() if self.table is None else tsat.load(self.table)


class RigFile(_Model):
    """A whole rig file."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="rig name: letters, digits, '.', '_', '-' (used in file names)")
    kind: Literal["real", "virtual"]
    seed: int = 1
    limit_sets: list[str] = Field(default_factory=list)
    instruments: Instruments
    dut: Dut
    tsat: TsatConfig = Field(default_factory=TsatConfig)
    state_dir: Path | None = Field(
        default=None, description="where the mains-off marker lives (default ~/.hubrig/state)")
    virtual: VirtualParams = Field(default_factory=VirtualParams)
    rf_noise: RfNoiseConfig | None = Field(default=None, description="bands and masks of the RF noise plan")
    bench: BenchServe | None = Field(default=None, description="how `hubrig bench serve` serves this "
                                     "virtual rig, and the faults it injects")

    @field_validator("state_dir")
    @classmethod
    def _state_dir_relative(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info)

    @model_validator(mode="after")
    def _kind_matches_instruments(self) -> "RigFile":
        inst = self.instruments
        virtual = self.kind == VIRTUAL
        for at, value in ((("instruments", "supply", "resource"), inst.supply and inst.supply.resource),
                          (("instruments", "itch", "port"), inst.itch.port)):
            if value is None:
                continue
            if virtual and value != VIRTUAL:
                raise field_problem(at, f"must be 'virtual' on a kind: virtual rig, got {value!r}")
            if not virtual and value == VIRTUAL:
                raise field_problem(at, "'virtual' is only for kind: virtual; give the real resource")
        if not virtual and self.dut.keystore is None:
            raise field_problem(("dut", "keystore"), "required on a real bench: the folder of the keys "
                                "the harness signs and verifies with")
        if virtual and inst.mains_switch != "supply":
            raise field_problem(("instruments", "mains_switch"), "the virtual rig switches mains with its supply")
        if not virtual and self.bench is not None:
            raise field_problem(("bench",), "only a kind: virtual rig file can be served as a bench")
        if virtual and inst.relay is not None:
            raise field_problem(("instruments", "relay"), "the virtual rig has no relay board (its supply "
                                "switches mains); remove this section")
        return self

    @property
    def is_virtual(self) -> bool:
        return self.kind == VIRTUAL


def _resolve(p: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    p = p.expanduser()
    return p if p.is_absolute() or base is None else (Path(base) / p).resolve()


# ---------------------------------------------------------------- loading, with file:line errors


MAX_BYTES = 1_000_000
"""Loader caps: what a rig file may hold. Each is checked while reading, before anything is built or
echoed, and each breach is a located error (a hostile or broken file is refused quickly)."""
MAX_NODES = 50_000
"""Values after alias expansion (an alias counts as everything it stands for: no alias bombs)."""
MAX_KEYS = 5_000
MAX_STRING = 4_096
MAX_DEPTH = 32
MAX_INT_DIGITS = 40
MAX_ERRORS = 20
"""At most this many validation errors are described (then a count of the rest)."""
ECHO = 60
"""At most this many characters of a value are echoed in an error."""


def _yaml_syntax(exc: yaml.MarkedYAMLError, shown: str) -> str:
    """A YAML syntax error at the line that needs fixing: an unclosed bracket or quote is named
    where it opened (PyYAML's context), with the line where parsing gave up."""
    problem, context = exc.problem_mark, exc.context_mark
    if context is not None and problem is not None and context.line != problem.line and exc.context:
        what = exc.context.removeprefix("while parsing ").removeprefix("while scanning ")
        return (f"{shown}:{context.line + 1}: YAML syntax: {what} opened here is not closed "
                f"({exc.problem} at line {problem.line + 1})")
    mark = problem or context
    return f"{shown}:{mark.line + 1 if mark else 1}: YAML syntax: {exc.problem or exc.context}"


def load_rig(path: str | Path) -> RigFile:
    """Read and validate a rig file; raise :class:`RigFileError` (file:line: field: problem)."""
    path = Path(path)
    shown = _shown(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RigFileError(f"{shown}:1: the rig file is {size:,} bytes; a rig file is at most {MAX_BYTES:,}")
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise RigFileError(f"{shown}: cannot read rig file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RigFileError(f"{shown}: not a text (UTF-8) file") from None
    return parse_rig(text, shown, base_dir=path.resolve().parent)


def parse_rig(text: str, shown: str, base_dir: Path) -> RigFile:
    """Validate rig file ``text``; ``shown`` names it in errors, relative paths resolve to ``base_dir``."""
    if len(text) > MAX_BYTES:
        raise RigFileError(f"{shown}:1: the rig file is {len(text):,} characters; a rig file is at most {MAX_BYTES:,}")
    loader = None
    try:
        _check_caps(text, shown)
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            raise RigFileError(f"{shown}:1: the rig file is empty")
        _reject_duplicate_keys(node, shown)
        _check_expansion(node, shown)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise RigFileError(_yaml_syntax(exc, shown)) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise RigFileError(f"{shown}:{line}: YAML: character {exc.character!r} is not allowed") from None
    except yaml.YAMLError as exc:
        raise RigFileError(f"{shown}: YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise RigFileError(f"{shown}:{node.start_mark.line + 1}: a rig file is a mapping "
                           f"(name:, kind:, instruments:, dut: ...), got {type(data).__name__}")
    model = rig_model()
    try:
        return model.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        lines = sorted({_describe(err, node, shown, model) for err in errors[:MAX_ERRORS]}, key=_line_of)
        if len(errors) > MAX_ERRORS:
            lines.append(f"{shown}: ... and {len(errors) - MAX_ERRORS} more problems")
        raise RigFileError("\n".join(lines)) from None


def _check_caps(text: str, shown: str) -> None:
    """One pass over the YAML event stream (no recursion, nothing built): nesting, key count,
    string length and integer digits, each refused at its line."""
    resolver = yaml.resolver.Resolver()
    depth, keys = 0, 0
    expecting_key: list[bool] = []  # per open collection: is the next scalar/collection in a mapping a key?
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1 if event.start_mark else 1
        is_key = bool(expecting_key) and expecting_key[-1] is True
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.ScalarEvent, yaml.AliasEvent)):
            if expecting_key and expecting_key[-1] is not None:
                expecting_key[-1] = not expecting_key[-1]
            if is_key:
                keys += 1
                if keys > MAX_KEYS:
                    raise RigFileError(f"{shown}:{line}: more than {MAX_KEYS:,} keys; a rig file has far fewer")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise RigFileError(f"{shown}:{line}: nested more than {MAX_DEPTH} levels deep")
            expecting_key.append(True if isinstance(event, yaml.MappingStartEvent) else None)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            expecting_key.pop()
        elif isinstance(event, yaml.ScalarEvent):
            value = event.value
            digits = sum(c.isdigit() for c in value)
            if digits > MAX_INT_DIGITS and event.tag is None and \
                    resolver.resolve(yaml.ScalarNode, value, event.implicit) == "tag:yaml.org,2002:int":
                raise RigFileError(f"{shown}:{line}: an integer of {digits:,} digits; at most {MAX_INT_DIGITS}")
            if len(value) > MAX_STRING:
                raise RigFileError(f"{shown}:{line}: a value of {len(value):,} characters (starting "
                                   f"{value[:20]!r}); at most {MAX_STRING:,}")


def _check_expansion(root: yaml.Node, shown: str) -> None:
    """Refuse a document whose aliases expand to more than :data:`MAX_NODES` values (each node's
    expanded size is counted once, so this is linear in the document, not in its expansion)."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        children = [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else \
            list(node.value) if isinstance(node, yaml.SequenceNode) else []
        if not children_done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
            continue
        total = 1 + sum(size[id(c)] for c in children)
        if total > MAX_NODES:
            raise RigFileError(f"{shown}:{node.start_mark.line + 1}: this section expands (through YAML "
                               f"aliases) to more than {MAX_NODES:,} values; a rig file has far fewer")
        size[id(node)] = total


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _line_of(message: str) -> tuple[int, str]:
    m = re.match(r"^.*?:(\d+): ", message)
    return (int(m.group(1)) if m else 0, message)


def _reject_duplicate_keys(root: yaml.Node, shown: str) -> None:
    """Refuse duplicate keys, and aliases that make the document contain itself. Each node is
    visited once: an alias is the very node it names, so nested aliases cost nothing extra."""
    visited: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[int, ...]]] = [(root, ())]
    while stack:
        node, ancestors = stack.pop()
        if id(node) in ancestors:
            raise RigFileError(f"{shown}:{node.start_mark.line + 1}: a YAML alias refers to a section "
                               "that contains it (a rig file cannot contain itself)")
        if id(node) in visited:
            continue
        visited.add(id(node))
        inside = ancestors + (id(node),)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise RigFileError(f"{shown}:{key.start_mark.line + 1}: {key.value}: duplicate key")
                    seen.add(key.value)
                stack.append((value, inside))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, inside) for item in node.value)


def _describe(err: dict, root: yaml.Node, shown: str, model: type[BaseModel]) -> str:
    loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == "rig_field":
        loc = loc + tuple(ctx["at"])
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    line = _line_for(root, loc)
    where = ".".join(str(p) for p in loc) or "(top level)"
    return f"{shown}:{line}: {where}: {_explain(err, loc, model)}"


def _line_for(root: yaml.Node, loc: tuple) -> int:
    """The line of the deepest YAML node on ``loc`` (the key's line for mapping entries)."""
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _explain(err: dict, loc: tuple, model: type[BaseModel]) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        section = _model_at(model, loc) is not None
        return "required section is missing" if section else "required field is missing"
    if kind == "extra_forbidden":
        allowed = _model_at(model, loc[:-1])
        hint = f" (expected one of: {', '.join(allowed.model_fields)})" if allowed else ""
        return f"unknown field {loc[-1]!r}{hint}"
    if kind == "literal_error":
        options = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"{_brief(value)} is not one of {options}"
    if kind in ("model_type", "dict_type"):
        return f"expected a section (key: value lines), got {_brief(value)}"
    msg = err["msg"]
    if kind.startswith("rig_") or kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("float_type", "int_type", "bool_type") and isinstance(value, (str, bool)):
        hint = " (write the number without quotes)" if isinstance(value, str) else ""
        return f"expected a {kind.removesuffix('_type').replace('bool', 'boolean').replace('float', 'number')}, " \
               f"got {type(value).__name__} {_brief(value)}{hint}"
    return f"{msg[0].lower()}{msg[1:]} (got {_brief(value)})"


def _brief(value: Any) -> str:
    """``repr(value)``, cut to :data:`ECHO` characters (an error never echoes a whole section)."""
    text = repr(value) if not isinstance(value, (dict, list)) else f"a {type(value).__name__} of {len(value)} items"
    return text if len(text) <= ECHO else text[:ECHO] + "...'"


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class expected at ``loc`` in a rig file (validated by ``root``), if it is a section."""
    model: Any = root
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        model = _model_of(fields[part].annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):  # Optional[Model]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None
