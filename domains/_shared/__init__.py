"""The simulated company shared by the source-system simulators, so keys agree across them."""
