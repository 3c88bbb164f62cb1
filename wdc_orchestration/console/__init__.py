"""What `wdc` shows on the terminal: its argument parser's one-line errors, the log handler,
progress while a run works, and the summary table at the end."""
