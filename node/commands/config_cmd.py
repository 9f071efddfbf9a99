"""`node config show`: the effective configuration and where each value came from."""

from __future__ import annotations

import argparse
from typing import Any

from node.config import Config, env_name


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser("config", help="inspect the configuration")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", parents=[common], help="print every setting and its source")
    show.set_defaults(handler=config_show)


def config_show(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    settings = {}
    for section, values in config.as_dict().items():
        for key, value in values.items():
            name = f"{section}.{key}"
            settings[name] = {
                "value": value,
                "source": config.sources.get(name, "default"),
                "env": env_name(name),
            }
    if args.json:
        return {"settings": settings}
    return {name: f"{entry['value']!r}  ({entry['source']})" for name, entry in settings.items()}
