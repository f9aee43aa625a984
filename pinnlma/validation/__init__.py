"""Validation suites: problems with certified or reference answers, scored by the user's own commands.

- :mod:`.nist`: the NIST StRD nonlinear-regression suite (``python -m pinnlma.validation.nist_strd``);
- :mod:`.problems`: the bundled PDE problems against their targets (``python -m pinnlma.validation.problems``);
- :mod:`.pinnacle`: the PINNacle cases beside PINNacle's published table (``python -m pinnlma.validation.pinnacle``),
  with :mod:`.pinnacle_cases` (the cases and the published table), :mod:`.pinnacle_report` (the Markdown page)
  and :mod:`.pinnacle_studies`, the measured studies of the cases a single PINN does not reach;
- :mod:`.kept`: the hand-written part of a generated report, kept when it is written again.

The suites are imported when their commands run; importing this package loads neither.
"""

__all__ = ["kept", "nist", "pinnacle", "pinnacle_cases", "pinnacle_report", "pinnacle_studies", "problems"]
