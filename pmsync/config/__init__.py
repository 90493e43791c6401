"""PMS configs: load and check (``load``), the config model (``model``), compile once per
version into the per-record path (``compile``), and golden-sample runs (``golden``).

Nothing in a config is ever executed as code.
"""

from pmsync.config.compile import CompiledConfig, compile_config
from pmsync.config.load import load_config, load_config_dir, problems
from pmsync.config.model import PMSConfig, config_hash

__all__ = ["CompiledConfig", "PMSConfig", "compile_config", "config_hash", "load_config",
           "load_config_dir", "problems"]
