"""Programs' output: pipes in (``pump``), the bounded queue's writer to disk (``writer``), the
files and their rotation (``files``), and what a reader gets back (``tail``)."""
