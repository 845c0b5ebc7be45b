"""Evidence: what a run saw, captured once by collectors and kept in the run bundle."""
