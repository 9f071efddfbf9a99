"""`node serve`, `node validate`, `node delegate`: the long-running roles.

`serve` and `validate` print one `ready` line (JSON) on stdout once listening, with the peer id
and addresses other nodes bootstrap from, then run until SIGINT/SIGTERM. `delegate` shows each
step of its job on stderr and prints the outcome; `delegate --resume` takes up again the jobs
an earlier run left open.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import trio
from exceptiongroup import BaseExceptionGroup

from node.commands.escrow_cmd import address_argument, amount_argument
from node.config import Config
from node.errors import PartialResult, UserError
from p2p.codec import CodecError
from p2p.messages import JobBody

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    node = argparse.ArgumentParser(add_help=False)
    node.add_argument("--bootstrap", action="append", help="a peer's multiaddr (repeatable)")
    node.add_argument("--listen", action="append", help="a listen multiaddr (repeatable)")
    node.add_argument("--status-port", type=int, help="port of /metrics and /health (0: off)")
    flags = {"bootstrap": "p2p.bootstrap", "listen": "p2p.listen",
             "status_port": "node.status_port"}

    serve = commands.add_parser("serve", parents=[common, node], help="run an executor")
    serve.set_defaults(handler=serve_command, setting_flags=flags)
    validate = commands.add_parser("validate", parents=[common, node], help="run a validator")
    validate.set_defaults(handler=validate_command, setting_flags=flags)

    delegate = commands.add_parser(
        "delegate", parents=[common, node], help="publish a job and see it run and paid"
    )
    delegate.add_argument("program", type=Path, nargs="?",
                          help="Cairo source (.cairo) or compiled JSON")
    delegate.add_argument("--resume", nargs="?", const=ALL_LEFT_OPEN, type=_job_hash,
                          metavar="JOB_HASH",
                          help="take up again a job an earlier run left open (without "
                               "JOB_HASH: every one), as it was delegated")
    delegate.add_argument("--input", default="{}", help="program input: JSON text or a file")
    delegate.add_argument("--volume", action="append", default=[], metavar="NAME=FILE",
                          help="an input volume: FILE's JSON, given as program_input[NAME] "
                               "and fetched by its sha256 (repeatable)")
    delegate.add_argument("--output-volume", action="append", default=[], metavar="NAME",
                          help="an output volume: the program writes one length-prefixed "
                               "section per NAME, in order; kept off chain, paid on its digest "
                               "(repeatable; needs --wait)")
    delegate.add_argument("--output-dir", type=Path,
                          help="with --output-volume: write each volume's bytes to DIR/NAME.json")
    delegate.add_argument("--layout", default="small", help="Cairo layout (default: small)")
    delegate.add_argument("--reward", type=amount_argument("--reward"),
                          help="tokens (0.001) or base units (1000000000000000fri)")
    delegate.add_argument("--deadline", type=_positive_seconds,
                          help="seconds from now (delegator.deadline)")
    delegate.add_argument("--max-steps", type=_positive_int, default=1_000_000)
    delegate.add_argument("--wait", action="store_true",
                          help="stay until the job is paid or expired (default: until assigned)")
    delegate.add_argument("--executor", type=address_argument, metavar="ADDRESS",
                          help="assign the job to this executor (account address) only; "
                               "other executors' bids are ignored")
    delegate.add_argument("--stream", action="store_true",
                          help="a streaming job: requests from stdin (JSON lists of felts), "
                               "replies on stdout; paid once when stdin ends")
    delegate.add_argument("--skew-ms", type=_positive_int,
                          help="with --stream: the clock skew a reply may show (stream.skew_ms)")
    delegate.add_argument("--cross-check", type=_rate, metavar="RATE",
                          help="with --stream: the share of requests (0..1) also sent to a "
                               "second staked executor and compared (stream.cross_check_rate)")
    delegate.set_defaults(handler=delegate_command,
                          setting_flags={**flags, "skew_ms": "stream.skew_ms",
                                         "cross_check": "stream.cross_check_rate"})


def serve_command(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from cairo_jobs.pool import RunnerPool
    from node.roles.executor import Executor
    from node.roles.services import open_services

    _check_addresses(config)
    hints, prover = _allowed_hints(config), _prover(config)  # refused before anything starts

    async def main() -> None:
        async with open_services(config, "executor") as services, RunnerPool(
            config.executor.max_jobs
        ) as pool:
            executor = Executor(services, pool, hints, prover)
            await _run_until_stopped(executor.run, services.ready_info())

    return _run(config, main, {"role": "executor"})


def validate_command(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from cairo_jobs.backends import make_verifier
    from cairo_jobs.pool import RunnerPool
    from node.roles.services import open_services
    from node.roles.validator import Checked, Validator

    _check_addresses(config)
    hints, proof_verifiers = _allowed_hints(config), _proof_verifiers()

    def report(checked: Checked) -> None:
        _emit(args.json, "witness", {k: hex(v) if type(v) is int and k != "security_bits"
                                     else v for k, v in asdict(checked).items()})

    async def main() -> None:
        async with open_services(config, "validator") as services, RunnerPool(1) as pool:
            validator = Validator(services, make_verifier(pool, None), hints, report,
                                  proof_verifiers=proof_verifiers,
                                  reexecute=config.validator.reexecute)
            if config.validator.synthetic_interval <= 0:
                await _run_until_stopped(validator.run, services.ready_info())
                return
            await _run_until_stopped(_with_synthetic_jobs(services, validator, args.json),
                                     services.ready_info())

    return _run(config, main, {"role": "validator"})


def _with_synthetic_jobs(services: Any, validator: Any, as_json: bool) -> Callable[..., Any]:
    """The validator's run, with synthetic jobs scoring executors beside it."""
    from node.roles.delegator import Delegator
    from node.roles.scores import ScoreBook
    from node.roles.synthetic import SyntheticTester

    def show_score(row: dict[str, Any]) -> None:
        _emit(as_json, "score", {k: hex(v) if k == "executor" else v for k, v in row.items()})

    delegator = Delegator(services)
    tester = SyntheticTester(services, delegator, ScoreBook(), show_score)
    checked_report = validator.report

    def report(checked: Any) -> None:
        checked_report(checked)
        tester.on_checked(checked)

    validator.report = report

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(delegator.run)
            await nursery.start(validator.run)
            await nursery.start(tester.run)
            task_status.started()

    return run


def delegate_command(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from node.registry_access import read_token
    from node.roles.delegator import Delegator, JobSpec, Outcome
    from node.roles.resume import RESUME_HINT, resumable_now
    from node.roles.services import open_services

    started = time.monotonic()

    def progress(step: str, details: dict[str, Any]) -> None:
        _emit(args.json, step, {"seconds": round(time.monotonic() - started, 2), **details},
              stream=sys.stderr)

    if args.resume is not None:
        return _resume_command(args, config, progress, started)
    if args.program is None or args.reward is None:
        raise UsageError("give the PROGRAM to delegate and its --reward, or --resume "
                         "[JOB_HASH] to take up the jobs an earlier run left open")
    deadline = args.deadline if args.deadline is not None else config.delegator.deadline
    _check_layout(args.layout)
    _check_addresses(config)
    output_volumes = _output_volumes(args)
    program, program_input = _compiled_program(args.program), _program_input(args.input)
    volumes = _volumes(args.volume)

    if args.stream:
        from node.commands.stream_cmd import delegate_stream

        if program_input != b"{}":
            raise UserError("--stream reads its requests from stdin; drop --input")
        if args.executor is not None:
            raise UserError("--executor is for organic jobs; a streaming job picks staked "
                            "executors (stream.min_stake)")
        return delegate_stream(args, config, program, progress, partial(_run, config))

    outcome: list[Outcome] = []

    async def main() -> None:
        async with open_services(config, "delegator") as services, trio.open_nursery() as nursery:
            delegator = Delegator(services)
            await nursery.start(delegator.run)
            registry = services.registry
            token = await services.chain(read_token, registry.account.client, registry.address)
            spec = JobSpec(
                program=program, program_input=program_input, layout=args.layout,
                reward=args.reward.base_units(token.decimals),
                deadline=int(time.time() + deadline), max_steps=args.max_steps, volumes=volumes,
                output_volumes=output_volumes,
            )
            progress("ready", {"peer_id": services.ready_info()["peer_id"]})
            left = resumable_now(services.store, services.wallet.address)
            if left:
                progress("resumable", {"jobs": [hex(job.job_hash) for job in left],
                                       "reason": RESUME_HINT})
            outcome.append(await delegator.delegate(spec, progress, wait=args.wait,
                                                      only=args.executor))
            nursery.cancel_scope.cancel()

    _run(config, main, {})
    if not outcome:
        raise UserError("interrupted before the job ended; see `node jobs` for its state")
    described, problem = _described_outcome(outcome[0], started, args.output_dir)
    if problem:
        raise PartialResult(problem, described)
    return described


ALL_LEFT_OPEN = "all"
"""`--resume` without a job hash: every job an earlier run left open."""
_FOR_NEW_JOBS = ("program", "reward", "deadline", "executor", "volume", "output_volume",
                 "stream")


class UsageError(UserError):
    """Arguments that do not go together (exit status 2, as argparse's own)."""

    exit_code = 2


def _resume_command(
    args: argparse.Namespace, config: Config, progress: Callable[[str, dict[str, Any]], None],
    started: float,
) -> dict[str, Any]:
    """`node delegate --resume [JOB_HASH]`: each job left open, followed to its end."""
    from node.roles.delegator import Delegator, Outcome
    from node.roles.resume import NoSuchJobToResume, jobs_to_resume, resume_job
    from node.roles.services import open_services
    from node.store import JobStore, store_path
    from node.wallet import account_address

    given = [_flag_name(name) for name in _FOR_NEW_JOBS if getattr(args, name)]
    if given or args.input != "{}":
        raise UsageError(f"--resume takes jobs up as they were delegated: drop "
                         f"{', '.join(given or ['--input'])}")
    _check_addresses(config)
    job = None if args.resume == ALL_LEFT_OPEN else args.resume
    path = store_path(config.data_dir)
    if not path.exists():
        if job is not None:
            raise NoSuchJobToResume(f"no job {job:#x}: there is no job store at {path}")
        return {"jobs": []}
    with JobStore.open(path) as store:  # refused before anything starts
        chosen = [left.job_hash for left in jobs_to_resume(store, account_address(config), job)]
    if not chosen:
        return {"jobs": []}  # nothing left open: nothing to start
    outcomes: dict[int, Outcome] = {}

    async def follow(delegator: Delegator, key: int) -> None:
        def job_progress(step: str, details: dict[str, Any]) -> None:
            progress(step, {"job": hex(key), **details})

        stored = delegator.services.store.get(key)
        outcomes[key] = await resume_job(delegator, stored, job_progress, wait=args.wait)

    async def main() -> None:
        async with open_services(config, "delegator") as services, trio.open_nursery() as nursery:
            delegator = Delegator(services)
            delegator.taken_up.update(chosen)
            await nursery.start(delegator.run)
            progress("ready", {"peer_id": services.ready_info()["peer_id"],
                               "jobs": [hex(key) for key in chosen]})
            async with trio.open_nursery() as jobs:
                for key in chosen:
                    jobs.start_soon(follow, delegator, key)
            nursery.cancel_scope.cancel()

    _run(config, main, {})
    if len(outcomes) < len(chosen):
        raise UserError("interrupted before every job ended; see `node jobs` for their states")
    results = [_described_outcome(outcomes[key], started, args.output_dir) for key in chosen]
    problems = [problem for _, problem in results if problem]
    if job is not None:
        described, problem = results[0]
        if problem:
            raise PartialResult(problem, described)
        return described
    jobs = {"jobs": [described for described, _ in results]}
    if problems:
        raise PartialResult(f"{len(problems)} of {len(results)} jobs did not end paid: "
                            f"{'; '.join(problems)}", jobs)
    return jobs


def _flag_name(dest: str) -> str:
    return "PROGRAM" if dest == "program" else f"--{dest.replace('_', '-')}"


def _described_outcome(
    outcome: Any, started: float, output_dir: Path | None
) -> tuple[dict[str, Any], str]:
    """A job's outcome as printed, and why it is a failure (empty when it is not)."""
    described = _describe(outcome, time.monotonic() - started)
    if outcome.state == "expired":
        return described, ("the job expired: no executor completed it before its deadline; "
                           "the reward stays in your escrow")
    if outcome.volumes_problem:
        return described, (f"the job was paid but its output volumes could not be had: "
                           f"{outcome.volumes_problem}")
    if outcome.volumes:
        described["output_volumes"] = _write_volumes(outcome.volumes, output_dir)
    return described, ""


def _check_addresses(config: Config) -> None:
    """Refuse a bad p2p.listen or p2p.bootstrap multiaddr before anything starts."""
    from p2p.host import HostConfig, listen_multiaddrs, peer_info

    try:
        listen_multiaddrs(HostConfig(tuple(config.p2p.listen)))
        for addr in config.p2p.bootstrap:
            peer_info(addr)
    except ValueError as error:
        raise UserError(f"{error} (p2p.listen: --listen; p2p.bootstrap: --bootstrap)"
                        ) from None


def _check_layout(layout: str) -> None:
    from cairo_jobs.vm import SUPPORTED_LAYOUTS

    if layout not in SUPPORTED_LAYOUTS:
        raise UserError(f"--layout {layout!r} is not a Cairo layout executors run; use one of "
                        f"{', '.join(SUPPORTED_LAYOUTS)}")


def _output_volumes(args: argparse.Namespace) -> tuple[str, ...]:
    """The --output-volume names, in order (checked against --wait, --stream, --output-dir)."""
    names = tuple(args.output_volume)
    if names and (args.stream or not args.wait):
        raise UserError("--output-volume: the volumes are fetched once the job is paid: "
                        "add --wait (and no --stream)")
    if args.output_dir is not None and not names:
        raise UserError("--output-dir holds output volumes: name them with --output-volume")
    try:
        JobBody(program=b"{}", program_input=b"{}", layout="small", output_volumes=names)
    except CodecError as error:
        raise UserError(f"--output-volume {list(names)}: {error.reason}") from None
    return names


def _write_volumes(volumes: Any, folder: Path | None) -> list[dict[str, Any]]:
    """Write each volume to FOLDER/NAME.json (if a folder is given); describe them."""
    described = []
    for volume in volumes:
        row = {"name": volume.name, "sha256": hashlib.sha256(volume.data).hexdigest(),
               "bytes": len(volume.data), "felts": len(volume.felts)}
        if folder is not None:
            path = folder.expanduser() / f"{volume.name}.json"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(volume.data)
            except OSError as error:
                raise UserError(f"--output-dir: cannot write {path} ({error})") from None
            row["file"] = str(path)
        described.append(row)
    return described


def _describe(outcome: Any, seconds: float) -> dict[str, Any]:
    described: dict[str, Any] = {
        "job": hex(outcome.job_hash), "state": outcome.state, "attempts": outcome.attempts,
        "seconds": round(seconds, 2),
    }
    if outcome.payment is not None:
        payment = outcome.payment
        described.update(output=[hex(felt) for felt in payment.output],
                         output_digest=hex(payment.output_digest),
                         executor=hex(payment.executor), reward=payment.reward,
                         transaction=hex(payment.transaction_hash))
    return described


async def _run_until_stopped(
    role: Callable[..., Awaitable[None]], ready: dict[str, Any]
) -> None:
    """Run `role` until SIGINT or SIGTERM, printing `ready` once it has started."""
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(role)
            print(json.dumps(ready), flush=True)
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def _run(
    config: Config, main: Callable[[], Awaitable[None]], summary: dict[str, Any]
) -> dict[str, Any]:
    """Run `main` under trio; a failure the user can act on comes out as one UserError."""
    from starknet_py.net.client_errors import ClientError

    from node.chain import ChainError
    from node.registry_access import UNREACHABLE_ERRORS, unreachable

    try:
        trio.run(main)
    except BaseExceptionGroup as group:
        error = _first_leaf(group)
    except (ChainError, ClientError, *UNREACHABLE_ERRORS) as failure:
        error = failure
    else:
        return {**summary, "stopped": True}
    if isinstance(error, UNREACHABLE_ERRORS):
        raise unreachable(config, error) from error
    if isinstance(error, (ChainError, ClientError)):
        raise UserError(f"the Starknet node failed: {error}; check chain.rpc_url and the "
                        "contract addresses in the config") from error
    raise error


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    """The first exception inside nested groups (trio wraps a task's failure in one)."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def _emit(as_json: bool, event: str, details: dict[str, Any], *, stream: Any = None) -> None:
    stream = stream or sys.stdout
    if as_json:
        print(json.dumps({"event": event, **details}), file=stream, flush=True)
    else:
        shown = " ".join(f"{key}={value}" for key, value in details.items())
        print(f"{event:<10} {shown}", file=stream, flush=True)


PROVERS = ("reexec", "native", "stone")


def _prover(config: Config) -> Any:
    """The executor's prover from `executor.prover` (None: re-execution witnesses)."""
    from cairo_jobs.native.backend import NativeConfig, NativeProver
    from cairo_jobs.stone import PROVER, StoneConfig, StoneNotInstalled, StoneProver

    choice = config.executor.prover
    if choice not in PROVERS:
        raise UserError(f"executor.prover is {choice!r}; choose one of {', '.join(PROVERS)}")
    if choice == "reexec":
        return None
    if choice == "native":
        return NativeProver(NativeConfig(timeout=config.executor.prove_timeout))
    try:
        return StoneProver(StoneConfig(timeout=config.executor.prove_timeout))
    except StoneNotInstalled:
        raise UserError(f"executor.prover is 'stone' but {PROVER} is not on PATH: install the "
                        "Stone prover with scripts/install-stone (needs internet), or choose "
                        "executor.prover = \"native\"") from None


def _proof_verifiers() -> dict[str, Any]:
    """The validator's verifiers by witness mode: native always, Stone when installed."""
    from cairo_jobs.native.backend import NativeConfig, NativeVerifier
    from cairo_jobs.stone import StoneNotInstalled, StoneVerifier

    verifiers: dict[str, Any] = {"native": NativeVerifier(NativeConfig(security_bits=0))}
    try:
        verifiers["stone"] = StoneVerifier()
    except StoneNotInstalled as error:
        log.info("stone proofs will be refused", extra={"reason": str(error)})
    return verifiers


def _allowed_hints(config: Config) -> frozenset[str]:
    """The hint codes jobs may use: the configured list, or the vetted library hints."""
    path = config.executor.allowed_hints_file
    if not path:
        from cairo_jobs.examples import example_hints

        return example_hints()
    try:
        codes = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read executor.allowed_hints_file {path}: {error}") from None
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise UserError(f"executor.allowed_hints_file {path} must hold a JSON list of strings")
    return frozenset(codes)


def _compiled_program(path: Path) -> bytes:
    from cairo_jobs.failures import RunFailure
    from cairo_jobs.program import CompileError, compile_source, load_program

    try:
        text = path.expanduser().read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read the program {path}: {error}") from None
    if path.suffix == ".cairo":
        try:
            return compile_source(text, name=path.name)
        except CompileError as error:
            raise UserError(f"{path} does not compile: {error}") from None
    try:
        load_program(text)
    except RunFailure as failure:
        raise UserError(f"{path} is not a compiled Cairo program: {failure}") from None
    return text.encode()


def _volumes(arguments: list[str]) -> dict[str, bytes]:
    """The --volume NAME=FILE arguments: name -> the file's bytes."""
    volumes: dict[str, bytes] = {}
    for argument in arguments:
        name, separator, path = argument.partition("=")
        if not separator or not name or not path:
            raise UserError(f"--volume {argument!r}: expected NAME=FILE")
        if name in volumes:
            raise UserError(f"--volume {name!r} is given twice")
        try:
            volumes[name] = Path(path).expanduser().read_bytes()
        except OSError as error:
            raise UserError(f"--volume {name!r}: cannot read {path} ({error})") from None
    return volumes


def _program_input(text: str) -> bytes:
    """The --input value: JSON text, or the path of a JSON file; must be an object."""
    try:
        value = json.loads(text)
    except ValueError:
        path = Path(text).expanduser()
        try:
            source = path.read_text()
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(
                f"--input is neither valid JSON nor a readable file ({error})"
            ) from None
        try:
            value = json.loads(source)
        except ValueError as error:
            raise UserError(f"--input file {path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise UserError("--input must be a JSON object, e.g. '{\"n\": 10}'")
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a share such as 0.1"
                                         ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 (off) and 1 (every "
                                         "request)")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def _job_hash(text: str) -> int | str:
    if text == ALL_LEFT_OPEN:
        return text
    try:
        value = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a job hash (hex, as `node jobs` "
                                         "shows it)") from None
    if not 0 <= value < 2**252:
        raise argparse.ArgumentTypeError(f"{text!r} is too large for a job hash (a felt)")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value
