"""Pure analyses shared by verifiers, reports and the stack: drift statistics, critical paths."""
