"""Files shipped inside the package (as ``supervisord_lite.packaging``): the systemd unit and the
config it runs, printed by ``supervisord-lite --print-unit`` and ``--print-config``."""
