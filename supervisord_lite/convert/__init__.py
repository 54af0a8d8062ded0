"""``supervisord-lite convert supervisord.conf``: a supervisord config translated to ours.

supervisord's INI (``[program:x]``, ``[group:x]``, ``[include]``, ``[supervisord]``,
``[unix_http_server]``) becomes a TOML config for this daemon, and every option that has no
counterpart, or a different meaning here, is reported with why. The translation is written out
once, as data (``PROGRAM_OPTIONS``: option -> what becomes of it), so the migration guide and
the tests read the same table. supervisord's expansions (``%(program_name)s``,
``%(process_num)02d``, ``%(group_name)s``, ``%(here)s``, ``%(ENV_X)s``...) are expanded as
supervisord would at load time; ``numprocs = N`` becomes N programs named by ``process_name``.

Modules: ``sections`` (reading files, translating sections), ``values`` (option values),
``toml_out`` (writing TOML), ``model`` (the result and its notes).
"""

from supervisord_lite.convert.model import Conversion, ConvertError, Note
from supervisord_lite.convert.sections import PROGRAM_OPTIONS, read_config, translate
from supervisord_lite.convert.toml_out import to_toml

__all__ = [
    "PROGRAM_OPTIONS",
    "Conversion",
    "ConvertError",
    "Note",
    "read_config",
    "to_toml",
    "translate",
]
