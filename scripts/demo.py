"""The main job, as far as the network exists today.

Now: a delegator's keys are created with `node keys new`, a real Cairo program is compiled, its job
body and signed header are built and put through the wire codec; an executor decodes them, checks
the body id, the program hash and the delegator's signature, runs the program in the worker pool
(proof mode) and computes the fact a verifier would register.
Later issues add the devnet, the p2p network, proving and payment to this script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from cairo_jobs.examples import compiled, example_hints
from cairo_jobs.facts import fact_hash
from cairo_jobs.program import load_program, program_hash
from cairo_jobs.runner import RunnerPool, RunRequest, RunResult
from node.keys import read_keystore
from p2p.messages import JobBody, JobHeader, SignedJobHeader, body_id
from p2p.signing import KnownPublicKeys, header_is_signed, job_hash, sign_header

SN_SEPOLIA = int.from_bytes(b"SN_SEPOLIA", "big")


def step(name: str, started: float, **facts: object) -> None:
    shown = " ".join(f"{key}={value}" for key, value in facts.items())
    print(f"[{time.perf_counter() - started:6.2f}s] {name} {shown}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zetina-demo-") as workdir:
        work = Path(workdir)
        summary = run(work, started)
    print(
        json.dumps(summary, indent=2)
        if args.json
        else "\n".join(f"{key}: {value}" for key, value in summary.items())
    )
    return 0


def run(work: Path, started: float) -> dict[str, object]:
    env = {**os.environ, "ZETINA_KEYSTORE_PASSWORD": "demo password"}
    subprocess.run(
        [sys.executable, "-m", "node", "keys", "new", "--data-dir", str(work), "--json"],
        check=True,
        env=env,
        capture_output=True,
    )
    delegator_key = read_keystore(work / "keystore.json", env["ZETINA_KEYSTORE_PASSWORD"])
    step("delegator keys created", started, public_key=hex(delegator_key.public_key)[:18] + "…")

    program = compiled("fibonacci")
    program_hash = compute_program_hash(program)
    step("program compiled", started, program_hash=hex(program_hash)[:18] + "…")

    body = JobBody(program=program, program_input=b'{"n": 10}', layout="small")
    encoded_body = body.encode()
    delegator_account = 0x5A1
    header = JobHeader(
        chain_id=SN_SEPOLIA,
        registry=0x1234,
        delegator=delegator_account,
        body_id=body.body_id,
        program_hash=program_hash,
        max_steps=100_000,
        reward=10**15,
        deadline=int(time.time()) + 3600,
        nonce=1,
    )
    wire_header = sign_header(header, delegator_key).encode()
    step("job signed", started, body_bytes=len(encoded_body), header_bytes=len(wire_header))

    received = SignedJobHeader.decode(wire_header)
    received_body = JobBody.decode(encoded_body)
    checker = KnownPublicKeys({delegator_account: delegator_key.public_key})
    signature_ok = trio.run(header_is_signed, received, checker)
    body_ok = body_id(encoded_body) == received.header.body_id
    hash_ok = compute_program_hash(received_body.program) == received.header.program_hash
    step("executor checks", started, signature=signature_ok, body_id=body_ok, program_hash=hash_ok)
    if not (signature_ok and body_ok and hash_ok):
        raise SystemExit("demo failed: an executor check did not pass")
    result = trio.run(execute, received_body, received.header.max_steps, work)
    step("job executed", started, output=list(result.output), steps=result.steps)
    return {
        "job_hash": hex(job_hash(received.header)),
        "body_id": received.header.body_id.hex(),
        "program_hash": hex(program_hash),
        "output": list(result.output),
        "steps": result.steps,
        "fact": hex(fact_hash(received.header.program_hash, result.output)),
        "header_bytes": len(wire_header),
        "body_bytes": len(encoded_body),
        "checks": "signature, body id and program hash verified",
        "seconds": round(time.perf_counter() - started, 2),
    }


async def execute(body: JobBody, max_steps: int, work: Path) -> RunResult:
    """Run the job as an executor does: in the worker pool, proof mode, vetted hints only."""
    request = RunRequest.from_body(
        body.program,
        body.program_input,
        body.layout,
        max_steps=max_steps,
        proof_mode=True,
        work_dir=work,
        allowed_hints=example_hints(),
    )
    async with RunnerPool(workers=1) as pool:
        return await pool.run(request)


def compute_program_hash(program_json: bytes) -> int:
    return program_hash(load_program(program_json.decode()))


if __name__ == "__main__":
    raise SystemExit(main())
