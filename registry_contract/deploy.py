"""Deploy the FactRegistry and the Registry on any Starknet node and record their addresses.

    python -m registry_contract.deploy --config devnet.toml            # the devnet in devnet.toml
    python -m registry_contract.deploy --config sepolia.toml \\
        --account 0x… --keystore ~/.starkli/key.json --password-file pw  # any RPC URL

The node is `--rpc-url`, else the config's `chain.rpc_url`. The paying account is `--account`
(else `chain.account`) with its key from `--keystore` (else `keys.keystore`); on a devnet without
them, its first predeployed account pays. Classes are declared only if the chain lacks them.
`--fact-registry ADDR` points the Registry at an existing FactRegistry instead of deploying one;
`--verifier ADDR` (repeatable) lets that account register facts in the FactRegistry deployed here.
The addresses are written into the config's `[contracts]` table (token, registry, fact_registry).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
from starknet_py.constants import STRK_FEE_CONTRACT_ADDRESS
from starknet_py.net.account.account import Account
from starknet_py.net.client_errors import ClientError
from starknet_py.net.full_node_client import FullNodeClient
from starknet_py.net.signer.key_pair import KeyPair
from starknet_py.net.udc_deployer.deployer import Deployer

from devnet.check import predeployed_account
from node.config import Config, ConfigError, load_config
from node.errors import UserError
from node.keys import read_keystore
from node.passwords import keystore_password
from registry_contract.classes import ensure_declared
from registry_contract.client import FactRegistryClient, send
from registry_contract.config_file import ConfigFileError, write_contract_addresses

DEFAULT_MIN_SECURITY_BITS = 96
DEFAULT_WITHDRAWAL_DELAY_S = 3600
DEPLOY_TIMEOUT_S = 600

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deployment:
    """The addresses of a deployment, as the config's `[contracts]` keys."""

    token: int
    registry: int
    fact_registry: int


async def deploy(
    account: Account,
    token: int,
    *,
    min_security_bits: int = DEFAULT_MIN_SECURITY_BITS,
    withdrawal_delay: int = DEFAULT_WITHDRAWAL_DELAY_S,
    fact_registry: int | None = None,
) -> Deployment:
    """Deploy a FactRegistry owned by `account` (unless given) and a Registry escrowing `token`."""
    if fact_registry is None:
        fact_registry = await _deploy(account, "fact_registry", [account.address])
    registry = await _deploy(account, "registry",
                             [token, fact_registry, min_security_bits, withdrawal_delay])
    return Deployment(token, registry, fact_registry)


async def _deploy(account: Account, name: str, constructor_calldata: list[int]) -> int:
    """Deploy through the universal deployer with a random salt; return the address."""
    class_hash = await ensure_declared(account, name)
    deployer = Deployer(account_address=account.address)
    deployment = deployer.create_contract_deployment(class_hash, calldata=constructor_calldata)
    await send(account, [deployment.call])
    address = deployment.address
    logger.info("deployed contract", extra={"contract": name, "address": hex(address)})
    return address


async def _account(config: Config, rpc_url: str, password_file: str) -> Account:
    client = FullNodeClient(node_url=rpc_url)
    chain_id = int(await client.get_chain_id(), 16)
    if config.chain.account:
        key = read_keystore(config.keystore_path,
                            keystore_password(password_file, os.environ, confirm=False))
        key_pair = KeyPair.from_private_key(key.private_key)
        address = int(config.chain.account, 16)
    else:
        try:
            address, private_key = await predeployed_account(rpc_url)
        except (aiohttp.ClientError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise UserError(f"{rpc_url} has no predeployed accounts ({exc!r}); pass --account "
                            "and --keystore to pay with your own account") from None
        key_pair = KeyPair.from_private_key(private_key)
    return Account(client=client, address=address, key_pair=key_pair, chain=chain_id)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry_contract.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True,
                        help="TOML config whose [contracts] table receives the addresses")
    parser.add_argument("--rpc-url", help="JSON-RPC URL (default: chain.rpc_url)")
    parser.add_argument("--account", help="paying account address (default: chain.account)")
    parser.add_argument("--keystore", help="its keystore (default: keys.keystore)")
    parser.add_argument("--password-file", default="", help="keystore password file")
    parser.add_argument("--token", type=lambda v: int(v, 0),
                        default=int(STRK_FEE_CONTRACT_ADDRESS, 16), help="escrowed ERC20")
    parser.add_argument("--fact-registry", type=lambda v: int(v, 0),
                        help="use this FactRegistry instead of deploying one")
    parser.add_argument("--verifier", type=lambda v: int(v, 0), action="append", default=[],
                        help="an account allowed to register facts (repeatable)")
    parser.add_argument("--min-security-bits", type=int, default=DEFAULT_MIN_SECURITY_BITS,
                        help="0 accepts facts verified by re-execution")
    parser.add_argument("--withdrawal-delay", type=int, default=DEFAULT_WITHDRAWAL_DELAY_S,
                        help="seconds between request_withdrawal and withdraw")
    parser.add_argument("--json", action="store_true", help="print the addresses as JSON")
    return parser


async def _run(args: argparse.Namespace) -> Deployment:
    if args.verifier and args.fact_registry is not None:
        raise UserError("--verifier needs the FactRegistry deployed here; its owner adds verifiers")
    flags = {"chain.account": args.account, "keys.keystore": args.keystore}
    config = load_config(args.config, flags=flags)
    rpc_url = args.rpc_url or config.chain.rpc_url
    account = await _account(config, rpc_url, args.password_file or config.keys.password_file)
    deployment = await deploy(account, args.token, min_security_bits=args.min_security_bits,
                              withdrawal_delay=args.withdrawal_delay,
                              fact_registry=args.fact_registry)
    facts = FactRegistryClient(account, deployment.fact_registry)
    for verifier in args.verifier:
        await facts.add_verifier(verifier)
        logger.info("verifier added", extra={"verifier": hex(verifier)})
    write_contract_addresses(args.config, asdict(deployment))
    return deployment


def main(argv: list[str] | None = None) -> int:
    """Command line: deploy, write the addresses, print them; 2 on a usage or node error."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        deployment = asyncio.run(asyncio.wait_for(_run(args), DEPLOY_TIMEOUT_S))
    except (UserError, ConfigError, ConfigFileError, ClientError, OSError,
            asyncio.TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    addresses = {key: hex(value) for key, value in asdict(deployment).items()}
    if args.json:
        print(json.dumps(addresses))
    else:
        for key, value in addresses.items():
            print(f"{key:14} {value}")
        print(f"written to [contracts] in {args.config}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
