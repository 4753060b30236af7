"""Scale runs that print timings and ratios against reference implementations (no asserts)."""
