"""Programs' output: pipes in (``pump``), each stream's queue, writer and counters
(``streams``), the writer to disk (``writer``), the files, their rotation and reopening
(``files``), the live followers (``fanout``), and what a reader gets back (``tail``)."""
