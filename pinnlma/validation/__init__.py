"""Validation suites: reference problems with certified answers (NIST StRD nonlinear regression)."""
