"""Tests of the trade-performance domain."""
