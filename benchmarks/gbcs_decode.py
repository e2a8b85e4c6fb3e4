"""Decode every RTDS 4.5.0 message with full signature and MAC verification; print messages/s.

Usage: ``.venv/bin/python benchmarks/gbcs_decode.py [--vectors DIR] [--rounds N]``

Each round runs ``decode_record`` (envelope, ECDSA signature, ECDH + KDF + AES-GCM MAC, content
decoding, tables) on all 1,275 messages with the RTDS key store and the ACB 90B3D51F30000002,
in a fresh key store each round so key loading and ECDH are paid again. The best round is the
figure (the least disturbed by other load); every round's figure is printed. Each round's count of
verified signatures and MACs must equal the vectors' ``facts.jsonl`` (472 and 811), else the script
exits 1, so a fast wrong answer cannot pass for a result.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hubrig.harness.gbcs.decode import decode_record
from hubrig.harness.gbcs.keystore import KeyStore

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VECTORS = ROOT.parent / "shared" / "vectors" / "rtds-4.5.0"
ACB = "90B3D51F30000002"
REFERENCE_PER_SECOND = 2250  # the TypeScript gbcs-parser with MAC and signature checks


def load(vectors: Path) -> tuple[list[bytes], int, int]:
    """Every message, and how many signatures and MACs ``facts.jsonl`` says are valid."""
    facts = [json.loads(line) for line in (vectors / "facts.jsonl").read_text().splitlines() if line.strip()]
    messages = [bytes.fromhex("".join((vectors / "messages" / f["file"]).read_text().split())) for f in facts]
    signatures = sum(f.get("signature_valid") == [True] for f in facts)
    macs = sum(f.get("mac") == "valid" for f in facts)
    return messages, signatures, macs


def one_round(messages: list[bytes], keystore: Path) -> tuple[float, int, int]:
    """Seconds for one pass, signatures verified, MACs verified (fresh key store: cold caches)."""
    keys = KeyStore(keystore)
    signatures = macs = 0
    start = time.perf_counter()
    for data in messages:
        record = decode_record(data, keys, ACB)
        signatures += record["signature_valid"] == [True]
        macs += record.get("mac") == "valid"
    return time.perf_counter() - start, signatures, macs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS, help="RTDS 4.5.0 directory")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (best is reported)")
    args = parser.parse_args(argv)
    if not (args.vectors / "messages").is_dir():
        print(f"RTDS vectors not found at {args.vectors} (pass --vectors DIR)", file=sys.stderr)
        return 2
    messages, want_signatures, want_macs = load(args.vectors)
    one_round(messages[:50], args.vectors / "keystore")  # warm imports, not the key caches
    rates = []
    for n in range(1, args.rounds + 1):
        seconds, signatures, macs = one_round(messages, args.vectors / "keystore")
        rates.append(len(messages) / seconds)
        print(f"round {n}: {len(messages)} messages in {seconds:.3f} s = {rates[-1]:,.0f} messages/s "
              f"({signatures} signatures and {macs} MACs verified)")
        if (signatures, macs) != (want_signatures, want_macs):
            print(f"wrong answer: facts.jsonl has {want_signatures} valid signatures and {want_macs} "
                  "valid MACs", file=sys.stderr)
            return 1
    best = max(rates)
    print(f"best: {best:,.0f} messages/s with full signature + MAC verification "
          f"({best / REFERENCE_PER_SECOND:.1f}x the TypeScript reference's ~{REFERENCE_PER_SECOND:,}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
