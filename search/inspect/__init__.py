"""Everything that reads a run without changing it: the top table, one function,
the figure, the HTML report, the exported module and the replay table."""
