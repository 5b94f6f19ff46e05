"""Evaluation: metrics, the systems compared, and the ``vqdsp eval`` reports."""
