"""`wdc doctor`: is this environment ready to run the platform? One line per item."""
