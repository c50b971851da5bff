"""randmat: random matrices for checking free probability numerically."""
