"""Stark-curve signing and verifying, and SNIP-12 header hashing: ours beside starknet-py.

Run: .venv/bin/python bench/signatures.py [--rounds 5] [--seconds 1.0] [--json]
Each figure is the median over rounds of operations per second; the ratio is ours / starknet-py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

from starknet_py.hash.utils import message_signature, verify_message_signature
from starknet_py.utils.typed_data import TypedData

from p2p import stark
from p2p.messages import JobHeader
from p2p.signing import job_hash, sign_header
from p2p.snip12 import typed_data


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of `operation`, run for about `seconds`."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        operation()
        count += 1
    return count / elapsed


def median_rate(operation: Callable[[], object], rounds: int, seconds: float) -> float:
    return statistics.median(rate(operation, seconds) for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rng = random.Random(1)
    key = stark.StarkKeyPair.from_private_key(rng.randrange(1, stark.EC_ORDER))
    digest = rng.randrange(1, 2**251)
    signature = key.sign(digest)
    header = JobHeader(
        chain_id=0x534E5F5345504F4C4941,
        registry=0x1234,
        delegator=0xABC,
        body_id=rng.randbytes(32),
        program_hash=0x55,
        max_steps=10**6,
        reward=10**18,
        deadline=1_800_000_000,
        nonce=7,
    )
    reference_typed_data = typed_data(header, header.chain_id)

    def reference_header_hash() -> int:
        return TypedData.from_dict(reference_typed_data).message_hash(header.delegator)

    cases = {
        "sign": (
            lambda: key.sign(digest),
            lambda: message_signature(digest, key.private_key, seed=None),
        ),
        "verify": (
            lambda: stark.verify(key.public_key, digest, signature),
            lambda: verify_message_signature(digest, list(signature), key.public_key),
        ),
        "header_hash": (lambda: job_hash(header), reference_header_hash),
        "sign_header": (
            lambda: sign_header(header, key),
            lambda: message_signature(reference_header_hash(), key.private_key),
        ),
    }
    results = {}
    for name, (ours, reference) in cases.items():
        results[name] = {
            "ours_per_s": round(median_rate(ours, args.rounds, args.seconds), 1),
            "starknet_py_per_s": round(median_rate(reference, args.rounds, args.seconds), 1),
        }
        results[name]["ratio"] = round(
            results[name]["ours_per_s"] / results[name]["starknet_py_per_s"], 1
        )
        if not args.json:
            row = results[name]
            print(
                f"{name:12} ours {row['ours_per_s']:>9.1f}/s   starknet-py "
                f"{row['starknet_py_per_s']:>9.1f}/s   x{row['ratio']}",
                flush=True,
            )
    if args.json:
        print(json.dumps({"rounds": args.rounds, "seconds": args.seconds, "results": results}))


if __name__ == "__main__":
    main()
