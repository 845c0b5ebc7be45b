"""Running game days: the batch API, the timeline of one scenario, load, guards, results."""
