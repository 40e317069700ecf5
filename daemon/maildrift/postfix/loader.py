"""Reading a Postfix configuration directory (and its postmulti instances) from disk."""

from __future__ import annotations

import functools
import os
import re

from maildrift.errors import ConfigError
from maildrift.filestore import FileData, TreeReader
from maildrift.hostfacts import HostFacts
from maildrift.postfix.defaults import Defaults
from maildrift.postfix.maincf import parse_main_cf
from maildrift.postfix.mastercf import parse_master_cf
from maildrift.postfix.model import PostfixConfig
from maildrift.postfix.params import ParamTable
from maildrift.textdecode import decode_config

__all__ = ["load_postfix", "load_postfix_instances"]


# The parsers are pure and their results immutable: an edit of main.cf need not
# parse an unchanged master.cf again.
_parse_main_cf = functools.lru_cache(maxsize=16)(parse_main_cf)
_parse_master_cf = functools.lru_cache(maxsize=16)(parse_master_cf)


def _read_text(reader: TreeReader, path: str) -> tuple[FileData, str]:
    data = reader.read(path)
    return data, decode_config(data.data, path)


def load_postfix(
    config_directory: str,
    reader: TreeReader,
    defaults: Defaults,
    facts: HostFacts,
    params: ParamTable,
    instance: str = "",
) -> PostfixConfig:
    """Load main.cf and master.cf of one configuration directory."""
    config_directory = os.path.normpath(config_directory)
    main_path = os.path.join(config_directory, "main.cf")
    master_path = os.path.join(config_directory, "master.cf")
    main_data, main_text = _read_text(reader, main_path)
    master_data, master_text = _read_text(reader, master_path)
    config = PostfixConfig.build(
        config_directory,
        _parse_main_cf(main_text, main_path),
        _parse_master_cf(master_text, master_path),
        defaults,
        facts,
        params,
        instance,
    )
    config.files = {main_path: main_data, master_path: master_data}
    return config


def load_postfix_instances(
    config_directory: str,
    reader: TreeReader,
    defaults: Defaults,
    facts: HostFacts,
    params: ParamTable,
) -> list[PostfixConfig]:
    """The default instance plus every postmulti instance main.cf names."""
    primary = load_postfix(config_directory, reader, defaults, facts, params)
    configs = [primary]
    if primary.main.get("multi_instance_directories") is None:
        return configs
    text = primary.expanded("multi_instance_directories").text
    seen = {primary.config_directory}
    for directory in (d for d in re.split(r"[\s,]+", text) if d):
        directory = os.path.normpath(directory)
        if directory in seen:
            continue
        seen.add(directory)
        try:
            other = load_postfix(directory, reader, defaults, facts, params)
        except ConfigError as exc:
            setting = primary.setting("multi_instance_directories")
            raise ConfigError(
                f"postmulti instance {directory}: {exc}", setting.file, setting.line
            ) from None
        name = other.main.get("multi_instance_name")
        other.instance = name.value if name else os.path.basename(directory)
        configs.append(other)
    return configs
