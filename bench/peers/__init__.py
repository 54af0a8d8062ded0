"""One adapter per peer (``base.Peer``): lite, supervisord, circus."""
