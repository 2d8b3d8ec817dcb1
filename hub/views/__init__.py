"""Pages of the registry. Views stay thin: selectors read, services write."""
