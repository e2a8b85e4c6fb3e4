"""Test key store: a directory of GBCS certificates and private keys, looked up by EUI-64.

Layout (as the RTDS vectors' ``keystore``): ``<eui>-ds.pem`` / ``<eui>-ka.pem`` certificates for
digital signature (DS) and key agreement (KA), ``<eui>-ds.key`` / ``<eui>-ka.key`` PKCS#8 PEM
private keys, and ``<eui>-pp-ds.*`` / ``<eui>-pp-ka.*`` prepayment variants. EUIs are matched
case-insensitively. Files are read on first use and cached, as are ECDH shared secrets.

Private key material never leaves this module in text form: not in ``repr``, logs or errors.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_FILE = re.compile(r"^([0-9a-fA-F]{16})-(pp-)?(ds|ka)\.(pem|key)$")
_EUI = re.compile(r"[0-9A-F]{16}")
USAGES = ("ds", "ka")


class KeyStoreError(LookupError):
    """A key the caller needs is missing or a key-store file is unreadable (names the file)."""


@lru_cache(maxsize=4096)
def normalise_eui(eui: str) -> str:
    """16 uppercase hex digits, or :class:`ValueError` (cached: every decode looks EUIs up)."""
    text = eui.strip().replace(" ", "").replace("-", "").upper()
    if not _EUI.fullmatch(text):
        raise ValueError(f"{eui!r} is not an EUI-64 (16 hex digits)")
    return text


class KeyStore:
    """Certificates and private keys of a key-store directory, by EUI and usage (``ds``/``ka``)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_dir():
            raise KeyStoreError(f"key store {self.path} is not a directory")
        self._files: dict[tuple[str, bool, str, str], Path] = {}
        for entry in sorted(self.path.iterdir()):
            m = _FILE.match(entry.name)
            if m and entry.is_file():
                eui, pp, usage, kind = m.groups()
                self._files[(eui.upper(), bool(pp), usage, kind)] = entry
        self._public: dict[tuple[str, bool, str], ec.EllipticCurvePublicKey] = {}
        self._private: dict[tuple[str, bool, str], ec.EllipticCurvePrivateKey] = {}
        self._secrets: dict[tuple[str, str, bool], bytes] = {}

    def __repr__(self) -> str:
        certs = sum(1 for k in self._files if k[3] == "pem")
        return f"KeyStore({str(self.path)!r}, {certs} certificates, {len(self._files) - certs} private keys)"

    __str__ = __repr__

    def euis(self) -> set[str]:
        """Every EUI with at least one file in the store."""
        return {k[0] for k in self._files}

    def has_private(self, eui: str, usage: str, prepayment: bool = False) -> bool:
        """Whether the store holds that private key (without loading it)."""
        return (normalise_eui(eui), prepayment, _usage(usage), "key") in self._files

    def certificate(self, eui: str, usage: str, prepayment: bool = False) -> x509.Certificate | None:
        """The certificate for ``eui`` and ``usage``, or ``None`` when absent."""
        path = self._files.get((normalise_eui(eui), prepayment, _usage(usage), "pem"))
        if path is None:
            return None
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except (ValueError, OSError, UnsupportedAlgorithm) as exc:
            raise KeyStoreError(f"{path}: not a readable PEM certificate ({type(exc).__name__})") from None

    def public_key(self, eui: str, usage: str, prepayment: bool = False) -> ec.EllipticCurvePublicKey | None:
        """The P-256 public key from the certificate (or from the private key), or ``None``."""
        key = (normalise_eui(eui), prepayment, _usage(usage))
        if key not in self._public:
            if key + ("pem",) not in self._files and key + ("key",) not in self._files:
                return None  # not cached: device-supplied EUIs must not grow the caches
            cert = self.certificate(key[0], key[2], prepayment)
            if cert is not None:
                try:
                    public = cert.public_key()
                except (ValueError, UnsupportedAlgorithm) as exc:
                    raise KeyStoreError(f"{self._describe(key)}.pem: unsupported public key "
                                        f"({type(exc).__name__})") from None
            else:
                private = self.private_key(key[0], key[2], prepayment)
                public = private.public_key() if private is not None else None
            if public is not None and not _is_p256(public):
                raise KeyStoreError(f"{self._describe(key)}: not a P-256 key")
            self._public[key] = public
        return self._public[key]

    def private_key(self, eui: str, usage: str, prepayment: bool = False) -> ec.EllipticCurvePrivateKey | None:
        """The P-256 private key, or ``None`` when the store does not hold it."""
        key = (normalise_eui(eui), prepayment, _usage(usage))
        if key not in self._private:
            path = self._files.get(key + ("key",))
            if path is None:
                return None
            try:
                private = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError, OSError, UnsupportedAlgorithm) as exc:
                # Never echo the file's content: only its name and the kind of failure.
                raise KeyStoreError(f"{path}: not a readable unencrypted PEM private key "
                                    f"({type(exc).__name__})") from None
            if not _is_p256(private):
                raise KeyStoreError(f"{path}: not a P-256 key")
            self._private[key] = private
        return self._private[key]

    def ds_public(self, eui: str) -> ec.EllipticCurvePublicKey | None:
        return self.public_key(eui, "ds")

    def ds_private(self, eui: str) -> ec.EllipticCurvePrivateKey | None:
        return self.private_key(eui, "ds")

    def ka_public(self, eui: str, prepayment: bool = False) -> ec.EllipticCurvePublicKey | None:
        return self.public_key(eui, "ka", prepayment)

    def ka_private(self, eui: str, prepayment: bool = False) -> ec.EllipticCurvePrivateKey | None:
        return self.private_key(eui, "ka", prepayment)

    def shared_secret(self, a: str, b: str, prepayment: bool = False) -> bytes | None:
        """ECDH shared secret of the KA keys of parties ``a`` and ``b`` (order irrelevant).

        Needs one side's private key and the other's public key; ``None`` when neither pairing
        is available. Cached per pair, so repeated messages between two parties cost one ECDH.
        Only keys and secrets the store holds are cached, so the caches stay bounded by its files
        whatever EUIs a device sends.
        """
        a, b = normalise_eui(a), normalise_eui(b)
        pair = (min(a, b), max(a, b), prepayment)
        if pair not in self._secrets:
            for mine, theirs in ((a, b), (b, a)):
                private = self.ka_private(mine, prepayment)
                public = self.ka_public(theirs, prepayment) if private is not None else None
                if public is not None:
                    self._secrets[pair] = private.exchange(ec.ECDH(), public)
                    break
            else:
                return None
        return self._secrets[pair]

    def _describe(self, key: tuple[str, bool, str]) -> str:
        eui, pp, usage = key
        return f"{self.path}/{eui.lower()}-{'pp-' if pp else ''}{usage}"

    @classmethod
    def generate(cls, path: str | os.PathLike, euis: Mapping[str, str] | Iterable[str],
                 *, overwrite: bool = False) -> "KeyStore":
        """Make fresh self-signed **test** DS and KA certificates and keys for ``euis``.

        ``euis`` maps EUI -> role (free text put in the certificate subject), or is a list of
        EUIs. Existing files are kept unless ``overwrite``, so a virtual rig's keys stay stable
        across runs. Private keys are written with mode 0600.
        """
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        roles = dict(euis) if isinstance(euis, Mapping) else {e: "test" for e in euis}
        # Several runs may share one key directory: generate under a lock, and write each file
        # atomically, so nobody reads a half-written key or a certificate of another key.
        with open(root / ".generate.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for eui, role in roles.items():
                eui = normalise_eui(eui)
                for usage in USAGES:
                    cert_path = root / f"{eui.lower()}-{usage}.pem"
                    key_path = root / f"{eui.lower()}-{usage}.key"
                    if not overwrite and cert_path.exists() and key_path.exists():
                        continue
                    private = ec.generate_private_key(ec.SECP256R1())
                    _write_atomic(key_path, private.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption()))
                    _write_atomic(cert_path, _self_signed(private, eui, str(role), usage)
                                  .public_bytes(serialization.Encoding.PEM))
        return cls(root)


def _usage(usage: str) -> str:
    u = usage.lower()
    if u not in USAGES:
        raise ValueError(f"key usage {usage!r} is not 'ds' or 'ka'")
    return u


def _is_p256(key) -> bool:
    return isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and \
        isinstance(key.curve, ec.SECP256R1)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a private (0600) temporary file and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _self_signed(private: ec.EllipticCurvePrivateKey, eui: str, role: str, usage: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"hubrig test {role}"[:64]),
                      x509.NameAttribute(NameOID.COMMON_NAME, eui)])
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    signing = usage == "ds"
    usage_ext = x509.KeyUsage(digital_signature=signing, content_commitment=False,
                              key_encipherment=False, data_encipherment=False,
                              key_agreement=not signing, key_cert_sign=False, crl_sign=False,
                              encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(days=1))
            .not_valid_after(now + _dt.timedelta(days=3650))
            .add_extension(usage_ext, critical=True)
            .sign(private, hashes.SHA256()))
